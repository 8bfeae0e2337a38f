"""``fillstream offsets show [GROUP]``: consumer groups, their members, and per partition the
committed offset, the end offset and the lag."""

from __future__ import annotations

import argparse
import json

from deploy.offsets import group_positions, render
from fillstream.settings import Settings

EXAMPLES = """examples:
  fillstream offsets show                      every group of the namespace
  fillstream offsets show streams.matching     one group (the namespace prefix is optional)
  fillstream offsets show --json               for machines
"""


def main(argv: list[str]) -> int:
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
    args = parser.parse_args(argv)
    groups = group_positions(Settings.from_env(), args.group)
    if args.json:
        print(json.dumps([g.to_dict() for g in groups], indent=2))
    else:
        print(render(groups))
    return 0
