"""NinjaTrader 8 Executions grid export → ``ExecutionReported`` events. Pure: text in, events out.

One row is one fill. The event id is the one the bridge gives the same fill sent live
(``bridge.parsing.derive_event_id``: account and NinjaTrader's execution id), so a fill that
was both sent live and imported is one event. The rules are the bridge's too: quantity and price
positive, commission and fees not negative, side buy or sell.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from decimal import Decimal

from bridge.imports.formats import (
    DateOrder,
    TimeParser,
    count_decimal_marks,
    optional_text,
    parse_cost,
    parse_price,
    parse_quantity,
    parse_text,
    resolve_date_order,
)
from bridge.imports.grid import (
    EXECUTION_COLUMNS,
    FEE_COLUMNS,
    Cells,
    ImportResult,
    Progress,
    RejectedRow,
    convert_rows,
    read_grid,
)
from bridge.parsing import derive_event_id
from core.errors import InvalidEventError
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
    decimal_mark: str | None = None,
    line_offset: int = 0,
    progress: Progress | None = None,
) -> ImportResult[ExecutionReported]:
    """Every row of an Executions grid export: the events of the valid rows, the rejected rows.

    ``tz`` is the time zone the export's times are in (NinjaTrader's platform time zone);
    ``date_order`` ``auto`` detects it from the whole file (see ``formats.detect_date_order``),
    ``decimal_mark`` None likewise. ``line_offset`` for a part of a file (see ``read_grid``).
    Raises ``UnrecognizedHeaderError`` when the header is not an Executions grid's.
    """
    grid = read_grid(text, EXECUTION_COLUMNS, "Executions", line_offset=line_offset)
    order = resolve_date_order(date_order, grid.values("Time"))
    evidence = count_decimal_marks(grid.values("Price", "Commission", *_FEES))
    mark = decimal_mark or evidence.mark
    fees = tuple(c for c in _FEES if c in grid.columns)
    return convert_rows(
        grid,
        _Converter(fees, order=order, mark=mark, tz=tz, ts_ingested=ts_ingested),
        order=order,
        mark=mark,
        evidence=evidence,
        progress=progress,
    )


class _Converter:
    """One file's rows → events: the cell parsers are bound to the file's formats once."""

    def __init__(
        self,
        fees: tuple[str, ...],
        *,
        order: DateOrder,
        mark: str,
        tz: tzinfo,
        ts_ingested: datetime,
    ) -> None:
        self.fees = fees
        self.ts_ingested = ts_ingested
        self.price = functools.partial(parse_price, decimal_mark=mark)
        self.cost = functools.partial(parse_cost, decimal_mark=mark)
        self.time = TimeParser(order=order, tz=tz)

    def __call__(self, cells: Cells) -> ExecutionReported | list[RejectedRow]:
        row = cells.row
        take = cells.take
        account = take("Account", parse_text)
        execution_id = take("ID", parse_text, remember=False)
        instrument = take("Instrument", parse_text)
        side = take("Action", _side)
        quantity = take("Quantity", parse_quantity)
        price = take("Price", self.price)
        commission = take("Commission", self.cost)
        fees = Decimal(0)
        for column in self.fees:
            fees += take(column, self.cost) or 0
        effect = take("E/X", _effect)
        ts_event = take("Time", self.time)
        if cells.errors:
            return cells.rejected()
        basis = {"account": account, "execution_id": execution_id}
        envelope = Envelope(
            event_id=EventId(derive_event_id("execution", basis, basis)),
            ts_event=ts_event,
            ts_ingested=self.ts_ingested,
            source=Source.IMPORT,
            producer=PRODUCER,
        )
        return ExecutionReported(
            envelope=envelope,
            execution_id=ExecutionId(execution_id),
            account=account,
            instrument=instrument,
            side=side,
            quantity=quantity,
            price=price,
            commission=commission,
            fees=fees,
            order_id=_order_id(row.get("Order ID")),
            order_name=optional_text(row.get("Name")),
            position_effect=effect,
        )


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
