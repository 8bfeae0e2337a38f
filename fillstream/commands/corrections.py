"""``fillstream corrections``: the report of corrected trades, from the ``trade_corrections``
view (``projections/views/1_trade_corrections.sql``). Each line is a trade's revision after the
first: the execution correction behind it (an amended or a removed execution), the revision it
replaced, and how its net P&L changed; a voided revision left no trade."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from core.database import connect
from core.settings import Settings
from core.text import json_value, text_table, when

EXAMPLES = """examples:
  fillstream corrections                       every corrected trade, latest first
  fillstream corrections --account Sim101 --since 2026-12-01
  fillstream corrections --trade t-7f3a        one trade's revisions
  fillstream corrections --json
"""

COLUMNS = (
    "trade_id", "revision", "supersedes", "correction_id", "voided", "current",
    "correction_kind", "corrected_execution_id", "correction_reason", "corrected_at",
    "account", "instrument", "strategy", "variant", "currency", "old_revision",
    "old_quantity", "new_quantity", "old_exit_price", "new_exit_price", "old_costs",
    "new_costs", "old_net_pnl", "new_net_pnl", "net_pnl_change", "event_id", "ts_ingested",
)  # fmt: skip
"""What the report reads of each correction, named as the view names it."""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream corrections",
        description="Trades corrected by amended or removed executions (ExecutionCorrected, "
        "ExecutionBusted): each revision after a trade's first, the correction behind it and "
        "how the net P&L changed. The trades view and the performance figures count the "
        "latest revisions only.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--account", help="only this account's trades")
    parser.add_argument("--trade", metavar="TRADE_ID", help="only this trade's revisions")
    parser.add_argument(
        "--since",
        type=_moment,
        metavar="WHEN",
        help="only revisions recorded from then on (ISO 8601, e.g. 2026-12-01; UTC if no zone)",
    )
    parser.add_argument(
        "--limit", type=_count, default=100, help="at most this many lines (default: 100)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    with connect(settings) as conn:
        found = corrections(
            conn, account=args.account, trade_id=args.trade, since=args.since, limit=args.limit
        )
    if args.json:
        print(json.dumps(found, indent=2, default=json_value))
        return 0
    if not found:
        print("no corrected trades")
        return 0
    print(render(found))
    return 0


def corrections(
    conn: psycopg.Connection[Any],
    *,
    account: str | None = None,
    trade_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The corrections that match, latest recorded first."""
    conditions: list[sql.Composable] = []
    values: list[object] = []
    for column, value in (("account", account), ("trade_id", trade_id)):
        if value is not None:
            conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            values.append(value)
    if since is not None:
        conditions.append(sql.SQL("ts_ingested >= %s"))
        values.append(since)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    query = sql.SQL(
        "SELECT {} FROM trade_corrections{} ORDER BY ts_ingested DESC, trade_id, revision DESC"
        " LIMIT %s"
    ).format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), where)
    rows = conn.execute(query, (*values, limit)).fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def render(found: list[dict[str, Any]]) -> str:
    """The corrections as a table for people."""
    return text_table(
        ["trade", "rev", "correction", "execution", "account", "instrument", "old net",
         "new net", "change", "recorded"],
        [
            [
                c["trade_id"],
                f"{c['revision']}" + ("" if c["current"] else " (replaced)"),
                _kind(c),
                c["corrected_execution_id"] or "-",
                c["account"],
                c["instrument"],
                _money(c["old_net_pnl"]),
                "voided" if c["voided"] else _money(c["new_net_pnl"]),
                _money(c["net_pnl_change"], signed=True),
                when(c["ts_ingested"]),
            ]
            for c in found
        ],
    )  # fmt: skip


def _kind(correction: dict[str, Any]) -> str:
    kind = correction["correction_kind"]
    if kind is None:
        return "-" if correction["correction_id"] is None else "not projected yet"
    return "amended" if kind == "corrected" else "removed"


def _money(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"not a date or moment: {text!r} (ISO 8601, e.g. 2026-12-01 or 2026-12-01T14:30Z)"
        ) from e
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, was {text!r}")
    return count
