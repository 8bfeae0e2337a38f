"""``fillstream verify NAME``: rebuild a projection into a scratch version, up to exactly where
the live one is, and diff them: the share of identical rows (the data-accuracy figure) and the
first differences. Exits 0 when identical, 1 otherwise.

With ``--record``, each projection's accuracy is published as a health check of the
``accuracy`` service (figures ``accuracy|<projection>``, ``accuracy_rows|…``,
``accuracy_identical|…``), which the ``accuracy`` alert rule reads (below 99.9 % by default);
verifying ``trades`` records the reconciliation of imported Trades exports too
(``accuracy|imported-trades``: the share of imported trades covered by a trade derived from
executions whose prices and net P&L agree with it)."""

from __future__ import annotations

import argparse
import json
import socket
from datetime import UTC, datetime

from core.errors import ControlError
from core.health_events import publish_check, service_checked
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
                parity = outcome.parity
                rows = parity.identical + parity.only_old + parity.only_new + parity.changed
                record(settings, p.name, parity.accuracy, rows, parity.identical, started_at)
                if p.name == "trades":
                    record(settings, IMPORTED, *imported_accuracy(settings), started_at)
            if not args.json:
                assert outcome.parity is not None
                print(outcome.parity.render())
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2, default=str))
    return 0 if all(o.parity is not None and o.parity.same for o in outcomes) else 1


IMPORTED = "imported-trades"
"""The name the reconciliation of imported Trades exports is recorded under."""

_IMPORTED_SQL = """
SELECT count(*), count(*) FILTER (WHERE i.entry_price = d.entry_price
                                   AND i.exit_price = d.exit_price AND i.net_pnl = d.net_pnl)
FROM {table} i JOIN trades d ON d.trade_id = i.covered_by
WHERE i.source = 'import' AND i.voided AND i.covered_by IS NOT NULL
  AND NOT EXISTS (SELECT FROM {table} later WHERE later.trade_id = i.trade_id
                                              AND later.revision > i.revision)
"""


def imported_accuracy(settings: Settings) -> tuple[float, int, int]:
    """The share of covered imported trades that agree with the derived trade covering them,
    of how many, how many agree (1.0 of none)."""
    from psycopg import sql

    from core.database import connect
    from projections import versions

    with connect(settings) as conn:
        table = versions.live(conn, "trades").table
        statement = sql.SQL(_IMPORTED_SQL).format(table=sql.Identifier(table))
        total, same = conn.execute(statement).fetchone() or (0, 0)
    return (1.0 if not total else same / total), total, same


def record(
    settings: Settings, name: str, share: float, rows: int, identical: int, started_at: datetime
) -> None:
    """Publish one accuracy as a health check of the ``accuracy`` service."""
    check = service_checked(
        service="accuracy",
        instance=f"{socket.gethostname()}|{name}",
        checks={"accuracy": share >= 1.0},
        figures={f"accuracy|{name}": share, f"accuracy_rows|{name}": float(rows),
                 f"accuracy_identical|{name}": float(identical)},
        interval_seconds=settings.health_interval_seconds,
        started_at=started_at,
        at=datetime.now(UTC),
    )  # fmt: skip
    if not publish_check(settings, check):
        raise ControlError(f"the accuracy of {name} did not reach Kafka's health topic")
