"""``fillstream phase start|list|rollback``: phases of the roadmap, recorded on the control topic,
each one rolled back in one command (see ``control.phases``)."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from control.phases import load_config, plan_rollback, render_list, rollback, start
from core.control_log import Phase, read_log
from core.progress import to_stderr
from core.settings import Settings

EXAMPLES = """examples:
  fillstream phase start average-cost --config phases/average-cost.toml
  fillstream phase list
  fillstream phase rollback average-cost              the plan only
  fillstream phase rollback average-cost --execute    carry it out

a phase's file (TOML):
  [settings]
  FILLSTREAM_MATCHING = "average-cost"
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream phase",
        description="Phases: derivation settings tried on the live log, each rolled back in one "
        "command (settings restored, stages rewound with their state, projections rebuilt).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    begin = commands.add_parser(
        "start",
        help="start a phase with the settings in a file",
        description="Record on the control topic that phase NAME starts with the settings in "
        "FILE, and where the stream stages stand. The worker must be stopped (one that "
        "`fillstream up` runs is stopped and started again); it then runs with the settings.",
    )
    begin.add_argument("name", metavar="NAME")
    begin.add_argument("--config", type=Path, required=True, metavar="FILE", help="TOML settings")
    listing = commands.add_parser("list", help="every phase: state, when, settings")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    back = commands.add_parser(
        "rollback",
        help="print the plan to roll a phase back; --execute carries it out",
        description="Roll phase NAME back: restore the settings it replaced, rewind the stream "
        "stages to where they stood when it started (their state rebuilt), make what they "
        "derived meanwhile void, and rebuild the projections that read it; the experiments "
        "that go with it are rolled back first. Without --execute, only the plan is printed.",
    )
    back.add_argument("name", metavar="NAME")
    back.add_argument("--execute", action="store_true", help="carry the plan out")
    back.add_argument(
        "--keep-old", action="store_true", help="keep the projections' versions from before"
    )
    back.add_argument(
        "--by", default=getpass.getuser(), help="who, recorded on its experiments (default: you)"
    )
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    say = to_stderr
    if args.command == "start":
        start(settings, args.name, load_config(args.config), say=say)
        return 0
    if args.command == "list":
        log = read_log(settings)
        if args.json:
            print(json.dumps([_phase_json(p) for p in log.phases()], indent=2))
        else:
            print(render_list(log))
        return 0
    if not args.execute:
        print(plan_rollback(settings, args.name).render())
        print("not carried out: add --execute")
        return 0
    plan, outcomes = rollback(settings, args.name, say=say, actor=args.by, keep_old=args.keep_old)
    print(plan.render())
    for o in outcomes:
        print(f"  {o.projection}: v{o.version} {o.state}")
    return 0


def _phase_json(phase: Phase) -> dict[str, object]:
    return {
        "name": phase.name,
        "active": phase.active,
        "started": phase.started.envelope.ts_event.isoformat(),
        "rolled_back": None
        if phase.rolled_back is None
        else phase.rolled_back.envelope.ts_event.isoformat(),
        "settings": dict(phase.started.settings),
        "previous": dict(phase.started.previous),
    }
