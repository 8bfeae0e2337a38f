"""``fillstream verify NAME``: rebuild a projection into a scratch version, up to exactly where
the live one is, and diff them: the share of identical rows (the data-accuracy figure) and the
first differences. Exits 0 when identical, 1 otherwise.

With ``--record``, each projection's accuracy is published as a health check of the
``accuracy`` service (figures ``accuracy|<projection>``, ``accuracy_rows|…``,
``accuracy_identical|…``), which the ``accuracy`` alert rule reads (below 99.9 % by default);
verifying ``trades`` records the reconciliation of imported Trades exports too
(``accuracy|imported-trades``: the share of imported trades covered by a trade derived from
executions whose prices and net P&L agree with it). The projectors run the same nightly
(``control.accuracy``, ``FILLSTREAM_ACCURACY_SCHEDULE``)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from core.settings import Settings

EXAMPLES = """examples:
  fillstream verify trades              one projection
  fillstream verify --all               every projection
  fillstream verify trades --keep       keep the scratch version to look at it
  fillstream verify --all --json        for machines (accuracy per projection)
  fillstream verify --all --record      publish each accuracy (the nightly data-accuracy run)
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream verify",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="a projection")
    parser.add_argument("--all", action="store_true", help="every projection")
    parser.add_argument("--keep", action="store_true", help="keep the scratch version")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument(
        "--record", action="store_true",
        help="publish each accuracy as a health check (read by the accuracy alert rule)",
    )  # fmt: skip
    return parser


def main(argv: list[str]) -> int:
    from control.accuracy import record_parity
    from fillstream.commands.projections import interruptible
    from projections import PROJECTIONS
    from projections.rebuild import by_name, verify

    argparser = parser()
    args = argparser.parse_args(argv)
    if args.all == bool(args.names):
        argparser.error("name projections or give --all")
    projections = list(PROJECTIONS) if args.all else by_name(args.names)
    settings = Settings.from_env()
    outcomes = []
    started_at = datetime.now(UTC)
    with interruptible() as stop:
        for p in projections:
            outcome = verify(settings, p, keep=args.keep, stop=stop)
            outcomes.append(outcome)
            if args.record and outcome.parity is not None:
                record_parity(settings, p.name, outcome.parity, started_at)
            if not args.json:
                assert outcome.parity is not None
                print(outcome.parity.render())
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2, default=str))
    return 0 if all(o.parity is not None and o.parity.same for o in outcomes) else 1
