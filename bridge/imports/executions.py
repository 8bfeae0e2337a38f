"""NinjaTrader 8 Executions grid export → ``ExecutionReported`` events. Pure: text in, events out.

One row is one fill. The event id is the one the bridge gives the same fill sent live
(``bridge.parsing.derive_event_id``: account and NinjaTrader's execution id), so a fill that
was both sent live and imported is one event. The rules are the bridge's too: quantity and price
positive, commission and fees not negative, side buy or sell.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from bridge.imports.formats import (
    DateOrder,
    detect_decimal_mark,
    optional_text,
    parse_cost,
    parse_price,
    parse_quantity,
    parse_text,
    parse_time,
    resolve_date_order,
)
from bridge.imports.grid import (
    EXECUTION_COLUMNS,
    FEE_COLUMNS,
    Cells,
    GridRow,
    ImportResult,
    Progress,
    RejectedRow,
    convert_rows,
    read_grid,
)
from bridge.parsing import derive_event_id
from fillstream.errors import InvalidEventError
from schemas.events import (
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    OrderId,
    PositionEffect,
    Side,
    Source,
)

PRODUCER = "fillstream-import/0.1.0"

_FEES = tuple(c.name for c in FEE_COLUMNS)
_EFFECTS = {"entry": PositionEffect.ENTRY, "exit": PositionEffect.EXIT, "": PositionEffect.UNKNOWN}


def parse_executions(
    text: str,
    *,
    tz: tzinfo,
    ts_ingested: datetime,
    date_order: DateOrder = DateOrder.AUTO,
    progress: Progress | None = None,
) -> ImportResult[ExecutionReported]:
    """Every row of an Executions grid export: the events of the valid rows, the rejected rows.

    ``tz`` is the time zone the export's times are in (NinjaTrader's platform time zone);
    ``date_order`` ``auto`` detects it from the whole file (see ``formats.detect_date_order``).
    Raises ``UnrecognizedHeaderError`` when the header is not an Executions grid's.
    """
    grid = read_grid(text, EXECUTION_COLUMNS, "Executions")
    order = resolve_date_order(date_order, grid.values("Time"))
    mark = detect_decimal_mark(grid.values("Price", "Commission", *_FEES))
    fees = tuple(c for c in _FEES if c in grid.columns)
    return convert_rows(
        grid,
        lambda row: _execution(row, fees, order=order, mark=mark, tz=tz, ts_ingested=ts_ingested),
        order=order,
        mark=mark,
        progress=progress,
    )


def _execution(
    row: GridRow,
    fees: tuple[str, ...],
    *,
    order: DateOrder,
    mark: str,
    tz: tzinfo,
    ts_ingested: datetime,
) -> ExecutionReported | list[RejectedRow]:
    cells = Cells(row)

    def price(cell: str, column: str) -> Decimal:
        return parse_price(cell, column, decimal_mark=mark)

    def cost(cell: str, column: str) -> Decimal:
        return parse_cost(cell, column, decimal_mark=mark)

    def time(cell: str, column: str) -> datetime:
        return parse_time(cell, column, order=order, tz=tz)

    account = cells.take("Account", parse_text)
    execution_id = cells.take("ID", parse_text)
    fields: dict[str, Any] = {
        "execution_id": ExecutionId(execution_id) if execution_id else None,
        "account": account,
        "instrument": cells.take("Instrument", parse_text),
        "side": cells.take("Action", _side),
        "quantity": cells.take("Quantity", parse_quantity),
        "price": cells.take("Price", price),
        "commission": cells.take("Commission", cost),
        "fees": sum((cells.take(c, cost) or Decimal(0) for c in fees), Decimal(0)),
        "order_id": _order_id(row.get("Order ID")),
        "order_name": optional_text(row.get("Name")),
        "position_effect": cells.take("E/X", _effect),
    }
    ts_event = cells.take("Time", time)
    if cells.errors:
        return cells.rejected()
    basis = {"account": account, "execution_id": execution_id}
    envelope = Envelope(
        event_id=EventId(derive_event_id("execution", basis, basis)),
        ts_event=ts_event,
        ts_ingested=ts_ingested,
        source=Source.IMPORT,
        producer=PRODUCER,
    )
    return ExecutionReported(envelope=envelope, **fields)


def _side(cell: str, column: str) -> Side:
    """``Buy``, ``Sell``, ``Buy to cover``, ``Sell short`` (or ``BuyToCover``, ``SellShort``)."""
    action = cell.strip().lower()
    if action.startswith("buy"):
        return Side.BUY
    if action.startswith("sell"):
        return Side.SELL
    raise InvalidEventError(
        column, f"must be Buy, Sell, Buy to cover or Sell short, was {cell.strip()!r}"
    )


def _effect(cell: str, column: str) -> PositionEffect:
    effect = _EFFECTS.get(cell.strip().lower())
    if effect is None:
        raise InvalidEventError(column, f"must be Entry or Exit, was {cell.strip()!r}")
    return effect


def _order_id(cell: str) -> OrderId | None:
    text = optional_text(cell)
    return OrderId(text) if text else None
