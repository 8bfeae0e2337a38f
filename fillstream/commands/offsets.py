"""``fillstream offsets show [GROUP]``: consumer groups, their members, and per partition the
committed offset, the end offset and the lag. ``fillstream offsets rewind GROUP ...``: move a
stopped group's offsets, printing the plan first and committing it only with ``--execute``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from control.offsets import (
    Target,
    apply_rewind,
    group_positions,
    parse_duration,
    parse_moment,
    plan_rewind,
    render,
    render_plan,
)
from core.progress import ProgressLine
from core.settings import Settings

EXAMPLES = """examples:
  fillstream offsets show                                    every group of the namespace
  fillstream offsets show streams.matching                   one group (namespace prefix optional)
  fillstream offsets show --json                             for machines
  fillstream offsets rewind streams.scopes --to-earliest     print the plan only
  fillstream offsets rewind streams.scopes --to-datetime 2026-09-22T14:00:00Z --execute
  fillstream offsets rewind streams.scopes --by-duration 2h --execute
  fillstream offsets rewind streams.matching --to-phase lifo-test --execute
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream offsets",
        description="Consumer groups' positions in the log.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        help="groups, members, committed and end offsets, lag",
        description="For each consumer group of the namespace (or GROUP): its state, its live "
        "members and, per partition, the committed offset, the end offset and the lag.",
    )
    show.add_argument("group", nargs="?", metavar="GROUP", help="one group, e.g. streams.matching")
    show.add_argument("--json", action="store_true", help="print JSON for machines")
    rewind = commands.add_parser(
        "rewind",
        help="move a stopped group's committed offsets (plan first, --execute to commit)",
        description="Move each committed partition of GROUP to a new offset, within the "
        "partition's first and end offsets. Prints the plan (partition, current, new); commits it "
        "only with --execute, and only while the group has no live members. A stage that keeps "
        "state (streams.matching, streams.performance) has it rebuilt for the new offsets: its "
        "source is replayed from the beginning up to them, keeping only the state.",
    )
    rewind.add_argument("group", metavar="GROUP", help="e.g. streams.scopes")
    to = rewind.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-earliest", action="store_true", help="each partition's first offset")
    to.add_argument("--to-latest", action="store_true", help="each partition's end: skip all")
    to.add_argument("--to-datetime", metavar="T", help="the first record at or after T (ISO 8601)")
    to.add_argument("--by-duration", metavar="D", help="the first record at or after now - D")
    to.add_argument("--shift-by", metavar="N", type=int, help="N records on (negative: back)")
    to.add_argument("--to-offset", metavar="N", type=int, help="offset N in every partition")
    to.add_argument(
        "--to-phase", metavar="NAME", help="where the group stood when phase NAME started"
    )
    rewind.add_argument("--execute", action="store_true", help="commit the plan")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "show":
        groups = group_positions(settings, args.group)
        if args.json:
            print(json.dumps([g.to_dict() for g in groups], indent=2))
        else:
            print(render(groups))
        return 0
    target = _target(args, settings)
    moves = plan_rewind(settings, args.group, target)
    if args.execute:
        progress = ProgressLine(f"rebuilding the state of {args.group}", "records")
        try:
            replayed = apply_rewind(settings, args.group, moves, progress)
        finally:
            progress.close()
        if replayed:
            print(f"state rebuilt from {replayed:,} records of the stage's source")
    print(render_plan(args.group, moves, args.execute))
    return 0


def _target(args: argparse.Namespace, settings: Settings) -> Target:
    if args.to_earliest:
        return Target("earliest")
    if args.to_latest:
        return Target("latest")
    if args.to_datetime is not None:
        return Target("datetime", moment=parse_moment(args.to_datetime))
    if args.by_duration is not None:
        return Target("datetime", moment=datetime.now(UTC) - parse_duration(args.by_duration))
    if args.shift_by is not None:
        return Target("shift", amount=args.shift_by)
    if args.to_phase is not None:
        from control.phases import phase_offsets

        return Target("phase", offsets=phase_offsets(settings, args.to_phase, args.group))
    return Target("offset", amount=args.to_offset)
