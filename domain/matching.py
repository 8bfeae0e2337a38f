"""Matching executions into round-trip trades, the way NinjaTrader pairs them.

A NinjaTrader trade is the quantity matched between ONE entry execution and ONE exit
execution. Matching is FIFO per position key (account, instrument, strategy): an execution
against the book's side closes the oldest open lots first, one ``TradeClosed`` per lot it
touches; what is left once the book is flat opens a lot on the execution's side (a reversal
through zero closes one trade and opens the next); an execution on the book's side, or into
a flat book, opens a lot (scale-in). Partial fills are just executions.

Average-cost matching (``Matching.AVERAGE_COST``) is the option: before an execution reduces a
position of several lots, they merge into one at their average price, so each closing execution
makes one trade at the position's average entry. The merged lot keeps its exact cost in
``basis``; a partial close takes ``basis * q / Q`` of it in currency, rounded to 10 places, and
the last contract takes what is left, so a position's trades add up, flat to flat, to exactly
what FIFO gives (only the split between trades differs). The reported entry price is the average
rounded to 10 places.

Commission and fees are allocated exactly, each apart: consuming ``q`` of an execution's
remaining ``Q`` contracts takes ``cost * q / Q`` rounded to 10 places, and the last contract takes
all that is left, so trades plus open lots always add up to what the executions reported.

A trade also carries its points and ticks per contract, how long it was held, the entry's order
name, and why it was closed (``domain.exits``: from the closing order's name, and whether that
execution reversed the position).

Every trade names its round trip: the position's life from flat to flat (a reversal starts a new
one). Its id is the NinjaTrader ``trade_id`` of the execution that opened the position when the
strategy provided one, else ``rt-`` + the first 24 hex digits of SHA-256 of
``account|instrument|strategy|<opening execution id>``: the same executions always give the same id.

Market context (``domain.context``), when given, adds what executions alone cannot say:

- MAE and MFE of a trade: from the highest and lowest price of the bars that closed after the
  lot's entry and by the exit (the entry and exit prices count too), in currency for the trade's
  quantity: for a long, MAE = (entry − low) × quantity × point value and MFE = (high − entry) ×
  quantity × point value; mirrored for a short. Null without such a bar (a trade shorter than a
  bar), when the trade lasted longer than the context's retention, or when the closing execution
  arrived more than the retention behind the latest one of its partition.
- The initial stop of a lot: the ``intended_stop`` of the signal its entry execution names. A
  trade's ``risk`` = |entry − stop| × quantity × point value and its ``r_multiple`` = net PnL /
  risk (Van Tharp's R, after costs). Lots merged by average-cost matching keep a stop only when
  they all had the same one.

The book is a fold over executions: ``apply(book, execution, spec) -> (book, trades)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Protocol

from core.errors import CodecError, InvalidEventError
from domain.contracts import ContractSpec
from domain.exits import exit_reason
from schemas.events import (
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    ExitReason,
    PositionChanged,
    Side,
    SignalId,
    Source,
    TradeClosed,
    TradeId,
)

PRODUCER = "fillstream-streams/0.1.0"
RECENT_LIMIT = 256
"""How many recently applied execution ids a book remembers to drop redeliveries."""

_COST_PLACES = Decimal("1E-10")
_MICROSECOND = timedelta(microseconds=1)
_BOOK_JSON_VERSION = 1


class Market(Protocol):
    """Market context as known when one execution is applied (see the module docstring)."""

    def extremes(self, after: datetime, through: datetime) -> tuple[Decimal, Decimal] | None:
        """(high, low) of the bars of the execution's instrument that closed after ``after`` and
        by ``through``; None when unknown."""

    def stop(self, signal_id: str) -> Decimal | None:
        """The intended stop of the signal ``signal_id``, when known."""


class Matching(StrEnum):
    """Which open quantity a closing execution takes: the oldest lots first, or their average."""

    FIFO = "fifo"
    AVERAGE_COST = "average-cost"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenLot:
    """The still open part of one execution; ``commission`` and ``fees`` are its not yet
    allocated costs."""

    execution_id: ExecutionId
    event_id: EventId
    side: Side
    quantity: int
    price: Decimal
    ts_event: datetime
    ts_ingested: datetime
    commission: Decimal
    fees: Decimal = Decimal(0)
    order_name: str | None = None
    strategy: str | None = None
    variant: str | None = None
    signal_id: SignalId | None = None
    source: Source = Source.UNKNOWN
    basis: Decimal | None = None
    """Currency cost of the open quantity, kept exactly for a lot that merges several executions
    (average-cost matching); None for one execution's lot: ``price * quantity`` points."""
    merged: tuple[ExecutionId, ...] = ()
    """The further executions merged into this lot (average-cost matching)."""
    initial_stop: Decimal | None = None
    """The intended stop of the entry's signal, when known."""

    def cost(self, point_value: Decimal) -> Decimal:
        """What the open quantity cost, in currency."""
        if self.basis is not None:
            return self.basis
        return self.price * self.quantity * point_value


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Open lots of one position key, all on one side, oldest first."""

    lots: tuple[OpenLot, ...] = ()
    recent: tuple[str, ...] = ()
    round_trip: str | None = None
    """Id of the round trip the open lots belong to; None while flat."""
    sequence: int = 0
    """How many executions the book applied."""
    realized: Decimal = Decimal(0)
    """Net PnL of the trades of the current (or, while flat, the last) round trip."""

    @property
    def position(self) -> int:
        """Signed open quantity: positive long, negative short."""
        return sum(lot.quantity if lot.side is Side.BUY else -lot.quantity for lot in self.lots)

    @property
    def is_flat(self) -> bool:
        return not self.lots


def position_key(execution: ExecutionReported) -> str:
    """The key a book is kept under: ``account|instrument|strategy``."""
    return f"{execution.account}|{execution.instrument}|{execution.strategy or ''}"


def is_duplicate(book: Book, execution: ExecutionReported) -> bool:
    """Whether the book already applied this execution (a redelivery)."""
    return execution.execution_id in book.recent


def apply(
    book: Book,
    execution: ExecutionReported,
    spec: ContractSpec,
    matching: Matching = Matching.FIFO,
    market: Market | None = None,
) -> tuple[Book, list[TradeClosed]]:
    """Apply one execution to its position's book: the new book and the trades it closed;
    ``market`` adds MAE, MFE and R-multiples (see the module docstring)."""
    if is_duplicate(book, execution):
        return book, []
    _validate(execution)
    lots = list(book.lots)
    if matching is Matching.AVERAGE_COST and len(lots) > 1 and lots[0].side is not execution.side:
        lots = [_merge(lots, spec.point_value)]
    round_trip = book.round_trip
    trades: list[TradeClosed] = []
    quantity = execution.quantity
    commission, fees = execution.commission, execution.fees
    against = sum(lot.quantity for lot in lots if lot.side is not execution.side)
    reason = exit_reason(execution.order_name, reversed_position=0 < against < quantity)
    while quantity > 0 and lots and lots[0].side is not execution.side:
        lot = lots[0]
        matched = min(lot.quantity, quantity)
        costs = _Costs(
            entry_commission=_allocate(lot.commission, matched, lot.quantity),
            entry_fees=_allocate(lot.fees, matched, lot.quantity),
            exit_commission=_allocate(commission, matched, quantity),
            exit_fees=_allocate(fees, matched, quantity),
            entry_value=_allocate(lot.cost(spec.point_value), matched, lot.quantity),
        )
        trades.append(_trade(lot, execution, spec, matched, costs, reason, round_trip, market))
        if matched == lot.quantity:
            lots.pop(0)
        else:
            lots[0] = replace(
                lot,
                quantity=lot.quantity - matched,
                commission=lot.commission - costs.entry_commission,
                fees=lot.fees - costs.entry_fees,
                basis=None if lot.basis is None else lot.basis - costs.entry_value,
            )
        quantity -= matched
        commission -= costs.exit_commission
        fees -= costs.exit_fees
    realized = book.realized + sum((t.net_pnl for t in trades), Decimal(0))
    if not lots:
        round_trip = None
    if quantity > 0:
        if not lots:
            round_trip = round_trip_id(execution)
            realized = Decimal(0)
        stop = None
        if market is not None and execution.signal_id is not None:
            stop = market.stop(execution.signal_id)
        lots.append(_open_lot(execution, quantity, commission, fees, stop))
    recent = (*book.recent, execution.execution_id)[-RECENT_LIMIT:]
    new = Book(
        lots=tuple(lots),
        recent=recent,
        round_trip=round_trip,
        sequence=book.sequence + 1,
        realized=realized,
    )
    return new, trades


def round_trip_id(opening: ExecutionReported) -> str:
    """The id of the round trip ``opening`` starts (see the module docstring for the rule)."""
    if opening.trade_id:
        return opening.trade_id
    return _derived_round_trip(position_key(opening), opening.execution_id)


def _derived_round_trip(key: str, execution_id: str) -> str:
    return _hashed("rt-", f"{key}|{execution_id}")


def trade_id(execution: ExecutionReported, entry_id: str, exit_id: str) -> TradeId:
    """The deterministic id of the trade pairing ``entry_id`` with ``exit_id``."""
    text = f"{position_key(execution)}|{entry_id}|{exit_id}"
    return TradeId(_hashed("t-", text))


def _validate(execution: ExecutionReported) -> None:
    if execution.side not in (Side.BUY, Side.SELL):
        raise InvalidEventError(
            "side",
            f"must be buy or sell to match execution {execution.execution_id!r}, "
            f"was {execution.side.value!r}",
        )
    if execution.quantity <= 0:
        raise InvalidEventError(
            "quantity",
            f"must be positive to match execution {execution.execution_id!r}, "
            f"was {execution.quantity}",
        )


def _allocate(cost: Decimal, part: int, whole: int) -> Decimal:
    """The share of ``cost`` for ``part`` of ``whole`` contracts; all of it for the last part."""
    if part == whole:
        return cost
    return _money(cost * part / whole)


def _merge(lots: list[OpenLot], point_value: Decimal) -> OpenLot:
    """One lot standing for all of ``lots`` (one side), at their average price."""
    first = lots[0]
    stops = {lot.initial_stop for lot in lots}
    quantity = sum(lot.quantity for lot in lots)
    basis = sum((lot.cost(point_value) for lot in lots), Decimal(0))
    average = _money(basis / point_value / quantity)
    return replace(
        first,
        quantity=quantity,
        price=average,
        commission=sum((lot.commission for lot in lots), Decimal(0)),
        fees=sum((lot.fees for lot in lots), Decimal(0)),
        basis=basis,
        merged=tuple(i for lot in lots for i in (lot.execution_id, *lot.merged))[1:],
        initial_stop=stops.pop() if len(stops) == 1 else None,
    )


def _open_lot(
    execution: ExecutionReported,
    quantity: int,
    commission: Decimal,
    fees: Decimal,
    stop: Decimal | None,
) -> OpenLot:
    envelope = execution.envelope
    return OpenLot(
        execution_id=execution.execution_id,
        event_id=envelope.event_id,
        side=execution.side,
        quantity=quantity,
        price=execution.price,
        ts_event=envelope.ts_event,
        ts_ingested=envelope.ts_ingested,
        commission=commission,
        fees=fees,
        order_name=execution.order_name,
        strategy=execution.strategy,
        variant=execution.variant,
        signal_id=execution.signal_id,
        source=envelope.source,
        initial_stop=stop,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Costs:
    """What one trade takes of its entry's and its exit's costs, and what its quantity cost."""

    entry_commission: Decimal
    entry_fees: Decimal
    exit_commission: Decimal
    exit_fees: Decimal
    entry_value: Decimal
    """Currency."""


def _trade(
    lot: OpenLot,
    execution: ExecutionReported,
    spec: ContractSpec,
    quantity: int,
    costs: _Costs,
    reason: ExitReason,
    round_trip: str | None,
    market: Market | None,
) -> TradeClosed:
    """The trade of ``quantity`` of ``lot`` closed by ``execution``."""
    long = lot.side is Side.BUY
    exit_value = execution.price * quantity * spec.point_value
    gross = exit_value - costs.entry_value if long else costs.entry_value - exit_value
    commission = costs.entry_commission + costs.exit_commission
    fees = costs.entry_fees + costs.exit_fees
    points = execution.price - lot.price if long else lot.price - execution.price
    tid = trade_id(execution, lot.execution_id, execution.execution_id)
    envelope = execution.envelope
    net = gross - commission - fees
    size = quantity * spec.point_value
    mae = mfe = None
    extremes = None if market is None else market.extremes(lot.ts_event, envelope.ts_event)
    if extremes is not None:
        high = max(extremes[0], lot.price, execution.price)
        low = min(extremes[1], lot.price, execution.price)
        adverse, favourable = (
            (lot.price - low, high - lot.price) if long else (high - lot.price, lot.price - low)
        )
        mae, mfe = _money(adverse * size), _money(favourable * size)
    risk = r_multiple = None
    if lot.initial_stop is not None:
        risk = _money(abs(lot.price - lot.initial_stop) * size)
        r_multiple = _money(net / risk) if risk else None
    return TradeClosed(
        envelope=Envelope(
            event_id=EventId(tid),
            ts_event=envelope.ts_event,
            ts_ingested=envelope.ts_ingested,
            source=envelope.source,
            producer=PRODUCER,
            causation_ids=(lot.event_id, envelope.event_id),
        ),
        trade_id=tid,
        account=execution.account,
        instrument=execution.instrument,
        strategy=lot.strategy if lot.strategy is not None else execution.strategy,
        variant=lot.variant if lot.variant is not None else execution.variant,
        signal_id=lot.signal_id if lot.signal_id is not None else execution.signal_id,
        direction=Direction.LONG if long else Direction.SHORT,
        quantity=quantity,
        entry_time=lot.ts_event,
        exit_time=envelope.ts_event,
        entry_price=lot.price,
        exit_price=execution.price,
        point_value=spec.point_value,
        currency=spec.currency,
        gross_pnl=gross,
        commission=commission,
        fees=fees,
        net_pnl=net,
        mae=mae,
        mfe=mfe,
        entry_name=lot.order_name,
        exit_name=execution.order_name,
        exit_reason=reason,
        points=points,
        ticks=_money(points / spec.tick_size),
        duration_micros=(envelope.ts_event - lot.ts_event) // _MICROSECOND,
        execution_ids=(lot.execution_id, *lot.merged, execution.execution_id),
        round_trip_id=round_trip,
        initial_stop=lot.initial_stop,
        risk=risk,
        r_multiple=r_multiple,
    )


def position_changed(
    book: Book, execution: ExecutionReported, spec: ContractSpec
) -> PositionChanged:
    """The position ``book`` holds after applying ``execution``."""
    envelope = execution.envelope
    key = position_key(execution)
    quantity = sum(lot.quantity for lot in book.lots)
    cost = sum((lot.cost(spec.point_value) for lot in book.lots), Decimal(0))
    return PositionChanged(
        envelope=Envelope(
            event_id=EventId(_hashed("pc-", f"{key}|{execution.execution_id}")),
            ts_event=envelope.ts_event,
            ts_ingested=envelope.ts_ingested,
            source=envelope.source,
            producer=PRODUCER,
            causation_ids=(envelope.event_id,),
        ),
        account=execution.account,
        instrument=execution.instrument,
        strategy=execution.strategy,
        sequence=book.sequence,
        execution_id=execution.execution_id,
        quantity=book.position,
        average_price=_money(cost / spec.point_value / quantity) if quantity else None,
        oldest_entry=min(lot.ts_event for lot in book.lots) if book.lots else None,
        round_trip_id=book.round_trip,
        point_value=spec.point_value,
        currency=spec.currency,
        open_costs=sum((lot.commission + lot.fees for lot in book.lots), Decimal(0)),
        realized_pnl=book.realized,
        initial_stop=book.lots[0].initial_stop if book.lots else None,
    )


def _hashed(prefix: str, text: str) -> str:
    """``prefix`` + the first 24 hex digits of SHA-256 of ``text``: a derived id."""
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:24]


def _money(value: Decimal) -> Decimal:
    return value.quantize(_COST_PLACES, rounding=ROUND_HALF_EVEN)


def book_to_json(book: Book) -> dict[str, Any]:
    """A JSON-safe dict of the book (Decimals as strings, times as ISO 8601, enums as values)."""
    return {
        "version": _BOOK_JSON_VERSION,
        "lots": [_lot_to_json(lot) for lot in book.lots],
        "recent": list(book.recent),
        "round_trip": book.round_trip,
        "sequence": book.sequence,
        "realized": str(book.realized),
    }


def book_from_json(data: dict[str, Any]) -> Book:
    """The book ``book_to_json`` wrote, exactly; ``CodecError`` if ``data`` is not one."""
    try:
        if data.get("version", _BOOK_JSON_VERSION) != _BOOK_JSON_VERSION:
            raise ValueError(f"unsupported version {data['version']!r}")
        return Book(
            lots=tuple(_lot_from_json(lot) for lot in data["lots"]),
            recent=tuple(str(i) for i in data["recent"]),
            round_trip=data.get("round_trip"),
            sequence=int(data.get("sequence", 0)),
            realized=Decimal(data.get("realized", "0")),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
        raise CodecError(f"book: not a stored book ({type(e).__name__}: {e})") from e


def _lot_to_json(lot: OpenLot) -> dict[str, Any]:
    return {
        "execution_id": lot.execution_id,
        "event_id": lot.event_id,
        "side": lot.side.value,
        "quantity": lot.quantity,
        "price": str(lot.price),
        "ts_event": lot.ts_event.isoformat(),
        "ts_ingested": lot.ts_ingested.isoformat(),
        "commission": str(lot.commission),
        "fees": str(lot.fees),
        "order_name": lot.order_name,
        "strategy": lot.strategy,
        "variant": lot.variant,
        "signal_id": lot.signal_id,
        "source": lot.source.value,
        "basis": None if lot.basis is None else str(lot.basis),
        "merged": list(lot.merged),
        "initial_stop": None if lot.initial_stop is None else str(lot.initial_stop),
    }


def _lot_from_json(data: dict[str, Any]) -> OpenLot:
    signal_id = data.get("signal_id")
    return OpenLot(
        execution_id=ExecutionId(data["execution_id"]),
        event_id=EventId(data["event_id"]),
        side=Side(data["side"]),
        quantity=int(data["quantity"]),
        price=Decimal(data["price"]),
        ts_event=datetime.fromisoformat(data["ts_event"]),
        ts_ingested=datetime.fromisoformat(data["ts_ingested"]),
        commission=Decimal(data["commission"]),
        fees=Decimal(data.get("fees", "0")),
        order_name=data.get("order_name"),
        strategy=data.get("strategy"),
        variant=data.get("variant"),
        signal_id=SignalId(signal_id) if signal_id is not None else None,
        source=Source(data.get("source", Source.UNKNOWN.value)),
        basis=None if data.get("basis") is None else Decimal(data["basis"]),
        merged=tuple(ExecutionId(i) for i in data.get("merged", ())),
        initial_stop=None if data.get("initial_stop") is None else Decimal(data["initial_stop"]),
    )
