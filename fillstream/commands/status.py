"""``fillstream status``: broker, database, services, topics and consumer lag."""

from __future__ import annotations

import argparse
import json

from core.settings import Settings
from fillstream import stack
from fillstream.report import StackStatus, render_table


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream status",
        description="Show whether the broker, the database and each service are up, the "
        "namespace's topics and its consumer groups' lag. Exits 1 when something is down.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    status = stack.status(Settings.from_env())
    if args.json:
        print(json.dumps(status.to_dict(), indent=2, default=str))
    else:
        print(render_table(status))
    return 0 if _healthy(status) else 1


def _healthy(status: StackStatus) -> bool:
    return (
        status.broker.reachable
        and status.database.reachable
        and all(s.health == "ok" for s in status.services)
    )
