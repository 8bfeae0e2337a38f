"""NinjaTrader 8 Trades grid export → ``TradeReported`` events. Pure: text in, events out.

One row is one trade as NinjaTrader paired it (one entry execution with one exit execution):
the reference that trades derived from executions are reconciled against. ``Commission`` and
the fee columns (``Clearing Fee``, ``Exchange Fee``, ``IP Fee``, ``NFA Fee``) are optional,
as are ``Cum. net profit`` (or ``Cum. profit``), ``MAE``, ``MFE``, ``ETD`` and ``Bars`` (which
real exports show negative for trades held over a session break).
The event happens at the exit time; its id is ``nt-`` + the first 32 hex digits of SHA-256 of
``nt-trade|account|instrument|direction|quantity|entry time|exit time|entry price|exit price|n``
(times in UTC, ISO 8601; ``n`` counts identical trades before it in the file, since two 1-lot fills
at one price and second make two identical rows). NinjaTrader's trade number is left out: it
restarts in every export, and the same trade in two overlapping exports must keep one id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from bridge.imports.executions import PRODUCER
from bridge.imports.formats import (
    DateOrder,
    TimeParser,
    count_decimal_marks,
    currency_of,
    optional_text,
    parse_cost,
    parse_count,
    parse_integer,
    parse_money,
    parse_optional_money,
    parse_price,
    parse_quantity,
    parse_text,
    resolve_date_order,
)
from bridge.imports.grid import (
    FEE_COLUMNS,
    TRADE_COLUMNS,
    Cells,
    ImportResult,
    Progress,
    RejectedRow,
    convert_rows,
    read_grid,
)
from core.errors import InvalidEventError
from schemas.events import Direction, Envelope, EventId, Source, TradeReported

_FEES = tuple(c.name for c in FEE_COLUMNS)
_MONEY = ("Profit", "Cum. net profit", "Commission", *_FEES, "MAE", "MFE", "ETD")
_DIRECTIONS = {"long": Direction.LONG, "short": Direction.SHORT}


def parse_trades(
    text: str,
    *,
    tz: tzinfo,
    ts_ingested: datetime,
    date_order: DateOrder = DateOrder.AUTO,
    progress: Progress | None = None,
) -> ImportResult[TradeReported]:
    """Every row of a Trades grid export: the events of the valid rows, the rejected rows.

    ``tz`` and ``date_order`` as for ``parse_executions``. Raises ``UnrecognizedHeaderError``
    when the header is not a Trades grid's.
    """
    grid = read_grid(text, TRADE_COLUMNS, "Trades")
    order = resolve_date_order(date_order, grid.values("Entry time", "Exit time"))
    evidence = count_decimal_marks(grid.values("Entry price", "Exit price", *_MONEY))
    mark = evidence.mark
    fees = tuple(c for c in _FEES if c in grid.columns)
    time = TimeParser(order=order, tz=tz)
    result = convert_rows(
        grid,
        lambda cells: _trade(cells, fees, time=time, mark=mark, ts_ingested=ts_ingested),
        order=order,
        mark=mark,
        evidence=evidence,
        progress=progress,
    )
    return replace(result, events=tuple(with_event_ids(result.events)))


def trade_event_id(trade: TradeReported, occurrence: int = 0) -> EventId:
    """The id of a reported trade, the ``occurrence``-th of its kind in its file (see above)."""
    basis = "|".join(
        (
            "nt-trade",
            trade.account,
            trade.instrument,
            trade.direction.value,
            str(trade.quantity),
            trade.entry_time.isoformat(),
            trade.exit_time.isoformat(),
            str(trade.entry_price.normalize()),
            str(trade.exit_price.normalize()),
            str(occurrence),
        )
    )
    return EventId("nt-" + hashlib.sha256(basis.encode()).hexdigest()[:32])


def with_event_ids(trades: Sequence[TradeReported]) -> list[TradeReported]:
    """The trades of one file in order, each with its id (identical trades numbered in turn)."""
    seen: dict[str, int] = {}
    out = []
    for trade in trades:
        content = trade_event_id(trade)
        occurrence = seen.get(content, 0)
        seen[content] = occurrence + 1
        envelope = replace(trade.envelope, event_id=trade_event_id(trade, occurrence))
        out.append(replace(trade, envelope=envelope))
    return out


def _trade(
    cells: Cells,
    fees: tuple[str, ...],
    *,
    time: TimeParser,
    mark: str,
    ts_ingested: datetime,
) -> TradeReported | list[RejectedRow]:
    row = cells.row

    def money(cell: str, column: str) -> Decimal:
        return parse_money(cell, column, decimal_mark=mark)

    def optional_money(cell: str, column: str) -> Decimal | None:
        return parse_optional_money(cell, column, decimal_mark=mark)

    def price(cell: str, column: str) -> Decimal:
        return parse_price(cell, column, decimal_mark=mark)

    def cost(cell: str, column: str) -> Decimal:
        return parse_cost(cell, column, decimal_mark=mark)

    fields: dict[str, Any] = {
        "trade_number": cells.take("Trade number", parse_count),
        "account": cells.take("Account", parse_text),
        "instrument": cells.take("Instrument", parse_text),
        "strategy": optional_text(row.get("Strategy")),
        "direction": cells.take("Market pos.", _direction),
        "quantity": cells.take("Qty", parse_quantity),
        "entry_price": cells.take("Entry price", price),
        "exit_price": cells.take("Exit price", price),
        "entry_time": cells.take("Entry time", time),
        "exit_time": cells.take("Exit time", time),
        "entry_name": optional_text(row.get("Entry name")),
        "exit_name": optional_text(row.get("Exit name")),
        "profit": cells.take("Profit", money),
        "cum_net_profit": cells.take("Cum. net profit", optional_money),
        "commission": cells.take("Commission", cost),
        "fees": sum((cells.take(c, cost) or Decimal(0) for c in fees), Decimal(0)),
        "mae": cells.take("MAE", optional_money),
        "mfe": cells.take("MFE", optional_money),
        "etd": cells.take("ETD", optional_money),
        "bars": cells.take("Bars", _optional_integer),
        "currency": currency_of(row.get("Profit")) or "USD",
    }
    entry_time, exit_time = fields["entry_time"], fields["exit_time"]
    if entry_time and exit_time and exit_time < entry_time:
        cells.errors.append(
            InvalidEventError(
                "Exit time", f"is before the entry time, was {row.get('Exit time')!r}"
            )
        )
    if cells.errors:
        return cells.rejected()
    envelope = Envelope(
        event_id=EventId(""),  # set by the caller, which counts identical trades
        ts_event=exit_time,
        ts_ingested=ts_ingested,
        source=Source.IMPORT,
        producer=PRODUCER,
    )
    return TradeReported(envelope=envelope, **fields)


def _direction(cell: str, column: str) -> Direction:
    direction = _DIRECTIONS.get(cell.strip().lower())
    if direction is None:
        raise InvalidEventError(column, f"must be Long or Short, was {cell.strip()!r}")
    return direction


def _optional_integer(cell: str, column: str) -> int | None:
    return parse_integer(cell, column) if cell.strip() else None
