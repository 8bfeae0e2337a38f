"""``fillstream projections list``: each projection, the version its view serves, its rows and
its lag behind the log."""

from __future__ import annotations

import argparse
import json

from fillstream.settings import Settings
from projections.listing import list_projections, render

EXAMPLES = """examples:
  fillstream projections list           a table
  fillstream projections list --json    for machines
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fillstream projections",
        description="The PostgreSQL projections of the log.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser(
        "list",
        help="each projection: live version, table, rows, lag",
        description="Each projection: the version its view serves (read from PostgreSQL), the "
        "table, its rows, the records of its topics not projected yet, and when its projector "
        "last stored offsets.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    args = parser.parse_args(argv)
    states = list_projections(Settings.from_env())
    if args.json:
        print(json.dumps([s.to_dict() for s in states], indent=2, default=str))
    else:
        print(render(states))
    return 0
