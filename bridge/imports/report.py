"""What an import shows: tables for people, a JSON document for machines. Pure: both only
format an ``Outcome``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from bridge.imports.outcome import FileResult, ImportedEvent, Outcome, counts
from bridge.imports.reconcile import Reconciliation
from schemas.events import ExecutionReported, TradeReported

FIRST_ROWS = 5
"""Rows shown as a sample of what would be published."""
LISTED = 50
"""Mismatches and unpaired trades listed in the text report (``--json`` lists all)."""


def render_text(outcome: Outcome) -> str:
    lines: list[str] = []
    for f in outcome.files:
        r = f.parsed
        lines.append(
            f"{f.path}: {r.rows} rows, {r.valid} valid, {len(r.rejected_lines)} rejected "
            f"({r.date_order.value} dates, times in {outcome.tz})"
        )
    valid = outcome.valid
    if valid:
        lines += ["", *_table(("account", "instrument", outcome.kind), counts(outcome.files))]
        lines += ["", f"first {min(FIRST_ROWS, valid)} rows:", *_first_rows(outcome)]
    if outcome.rejected:
        lines += ["", "rejected rows:"]
        lines += [f"  {path}:{r.line}  {r.field}: {r.reason}" for path, r in outcome.rejected]
    if outcome.reconciliation is not None and outcome.reconciled_with is not None:
        lines += ["", *_reconciliation_text(outcome.reconciliation, outcome.reconciled_with)]
    lines += ["", _verdict(outcome)]
    return "\n".join(lines)


def _verdict(outcome: Outcome) -> str:
    repeated = f"; {outcome.repeated} repeated in the input" if outcome.repeated else ""
    rejected = len({(path, r.line) for path, r in outcome.rejected})
    fix = "fix them, or pass --skip-invalid to publish the valid rows"
    if outcome.dry_run:
        text = (
            f"dry run: nothing published; {len(outcome.unique_ids)} events would go to "
            f"{outcome.topic}, less those already in the log{repeated}"
        )
        return text + (
            f"; {rejected} rejected rows would stop the import ({fix})" * outcome.refused
        )
    if outcome.refused:
        return f"refused: {rejected} rejected rows; nothing was published ({fix})"
    return (
        f"{outcome.topic}: {outcome.new} new, {outcome.already_in_log} already in the log"
        f"{repeated}; published {outcome.published}"
    )


def _first_rows(outcome: Outcome) -> list[str]:
    rows: list[tuple[object, ...]] = []
    for f in outcome.files:
        for line, event in zip(f.parsed.lines, f.parsed.sample, strict=False):
            if len(rows) == FIRST_ROWS:
                break
            rows.append((f"{PurePath(f.path).name}:{line}", *_row(event)))
    if outcome.kind == "executions":
        header: tuple[str, ...] = ("row", "time (UTC)", "account", "instrument", "side", "qty")
        header += ("price", "commission", "execution id")
    else:
        header = ("row", "exit time (UTC)", "trade", "account", "instrument", "direction", "qty")
        header += ("entry", "exit", "profit")
    return _table(header, rows)


def _row(event: ImportedEvent) -> tuple[object, ...]:
    match event:
        case ExecutionReported():
            return (
                _time(event.envelope.ts_event),
                event.account,
                event.instrument,
                event.side.value,
                event.quantity,
                event.price,
                event.commission + event.fees,
                event.execution_id,
            )
        case TradeReported():
            return (
                _time(event.exit_time),
                event.trade_number,
                event.account,
                event.instrument,
                event.direction.value,
                event.quantity,
                event.entry_price,
                event.exit_price,
                event.profit,
            )


def _reconciliation_text(rec: Reconciliation, trades: FileResult) -> list[str]:
    lines = [
        f"reconciliation with {trades.path}: {trades.parsed.valid} NinjaTrader trades, "
        f"{rec.matched} paired, {len(rec.mismatches)} mismatches, "
        f"{len(rec.unmatched_ours)} derived trades without a NinjaTrader row, "
        f"{len(rec.unmatched_theirs)} NinjaTrader rows without a derived trade"
    ]
    for r in trades.parsed.rejected:
        lines.append(f"left out, rejected: {trades.path}:{r.line}  {r.field}: {r.reason}")
    if rec.unknown_instruments:
        lines.append(f"no contract specification for: {', '.join(rec.unknown_instruments)}")
    for key, quantity in rec.open_positions:
        lines.append(f"still open after the last execution: {key} {quantity:+d}")
    lines += _listing(
        "mismatches:",
        ("trade", "account", "instrument", "column", "ours", "NinjaTrader"),
        [
            (m.trade_number, m.account, m.instrument, m.column, m.ours, m.theirs)
            for m in rec.mismatches
        ],
    )
    lines += _listing(
        "NinjaTrader rows without a derived trade:",
        ("trade", "account", "instrument", "direction", "qty", "entry (UTC)", "exit (UTC)"),
        [
            (t.trade_number, t.account, t.instrument, t.direction.value, t.quantity)
            + (t.entry_time, t.exit_time)
            for t in rec.unmatched_theirs
        ],
    )
    lines += _listing(
        "derived trades without a NinjaTrader row:",
        ("account", "instrument", "direction", "qty", "entry (UTC)", "exit (UTC)", "entry", "exit"),
        [
            (t.account, t.instrument, t.direction.value, t.quantity)
            + (t.entry_time, t.exit_time, t.entry_price, t.exit_price)
            for t in rec.unmatched_ours
        ],
    )
    return lines


def _listing(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A titled table of the first ``LISTED`` rows, and how many more there are."""
    if not rows:
        return []
    more = [f"... {len(rows) - LISTED} more (--json lists all)"] if len(rows) > LISTED else []
    return [title, *_table(header, rows[:LISTED]), *more]


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [list(header), *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_is_number(row[i]) for row in rows) and rows for i in range(len(header))]
    return [
        "  ".join(
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]


def _cell(value: object) -> str:
    return _time(value) if isinstance(value, datetime) else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def to_json(outcome: Outcome) -> dict[str, Any]:
    """The outcome as JSON-safe values (money and prices as decimal strings)."""
    document: dict[str, Any] = {
        "kind": outcome.kind,
        "topic": outcome.topic,
        "tz": outcome.tz,
        "dry_run": outcome.dry_run,
        "refused": outcome.refused,
        "files": [
            {
                "path": f.path,
                "rows": f.parsed.rows,
                "valid": f.parsed.valid,
                "date_order": f.parsed.date_order.value,
                "decimal_mark": f.parsed.decimal_mark,
                "rejected": [
                    {"line": r.line, "field": r.field, "reason": r.reason}
                    for r in f.parsed.rejected
                ],
            }
            for f in outcome.files
        ],
        "counts": [
            {"account": a, "instrument": i, "events": n} for a, i, n in counts(outcome.files)
        ],
        "repeated_in_input": outcome.repeated,
        "new": outcome.new,
        "already_in_log": outcome.already_in_log,
        "published": outcome.published,
    }
    if outcome.reconciliation is not None and outcome.reconciled_with is not None:
        document["reconciliation"] = _reconciliation_json(
            outcome.reconciliation, outcome.reconciled_with
        )
    return document


def _reconciliation_json(rec: Reconciliation, trades: FileResult) -> dict[str, Any]:
    return {
        "trades_file": trades.path,
        "ok": rec.ok,
        "matched": rec.matched,
        "mismatches": [
            {
                "trade_number": m.trade_number,
                "account": m.account,
                "instrument": m.instrument,
                "column": m.column,
                "ours": str(m.ours),
                "theirs": str(m.theirs),
                "trade_id": m.trade_id,
            }
            for m in rec.mismatches
        ],
        "unmatched_ours": [
            {
                "trade_id": t.trade_id,
                "account": t.account,
                "instrument": t.instrument,
                "direction": t.direction.value,
                "quantity": t.quantity,
                "entry_time": t.entry_time.isoformat(),
                "exit_time": t.exit_time.isoformat(),
                "entry_price": str(t.entry_price),
                "exit_price": str(t.exit_price),
                "net_pnl": str(t.net_pnl),
            }
            for t in rec.unmatched_ours
        ],
        "unmatched_theirs": [t.trade_number for t in rec.unmatched_theirs],
        "open_positions": [{"key": k, "quantity": q} for k, q in rec.open_positions],
        "unknown_instruments": list(rec.unknown_instruments),
        "rejected_trade_rows": [
            {"line": r.line, "field": r.field, "reason": r.reason} for r in trades.parsed.rejected
        ],
    }
