"""A seeded trading session in NinjaTrader's shape, as JSON-ready bridge events. Pure: no I/O.

``random.Random(seed)`` alone drives a random walk of 1-minute bars and a 20-bar breakout
strategy: a signal and a market entry, a stop and two profit targets (scale out one contract at
the first, the rest at the second, the stop moving to break-even in between), a time exit, and a
flatten at the close. Fills are sometimes partial (3 filled as 2 + 1). The session opens with the
instrument's definition, as the AddOn sends it, and ends with the broker's back office adding
the exchange fees to the first fill (an ``execution_corrected``). No wall clock is read, so the
same arguments always give the same list.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Event = dict[str, Any]

DEFAULT_START = datetime(2026, 9, 22, 13, 30, tzinfo=UTC)
"""9:30 in New York: the cash open."""
PRODUCER = "fillstream-demo"

_LOOKBACK = 20  # bars in the breakout channel
_ATR_BARS = 14
_MAX_HOLD = 45  # minutes before a time exit
_NO_ENTRY_BEFORE_CLOSE = 15  # minutes
_HEARTBEAT_MINUTES = 5
_STEPS = 5  # price points inside each bar
_STEP = timedelta(milliseconds=1)  # spacing of events that happen "at once"
_AVERAGE_PLACES = Decimal("0.000001")


def generate_session(
    *,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    minutes: int = 390,
    instrument: str = "NQ 12-26",
    account: str = "Sim101",
    strategy: str = "DemoBreakout",
    tick_size: Decimal = Decimal("0.25"),
    point_value: Decimal = Decimal(20),
    commission_per_contract: Decimal = Decimal("2.09"),
    fees_per_contract: Decimal = Decimal("0.35"),
) -> list[Event]:
    """Bars, heartbeats, signals, orders, executions and positions, in event-time order."""
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    session = _Session(
        rng=random.Random(seed),
        prefix=f"demo-{seed}",
        account=account,
        instrument=instrument,
        strategy=strategy,
        tick=tick_size,
        point_value=point_value,
        commission=commission_per_contract,
        fees=fees_per_contract,
    )
    session.run(start, minutes)
    return session.events


def summarize(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many events of each type, by type name."""
    return dict(sorted(Counter(str(e["type"]) for e in events).items()))


def expected_trade_count(events: Iterable[Mapping[str, Any]]) -> int:
    """NinjaTrader-style trades the executions imply: FIFO pairs of entry × exit execution.

    Matched per (account, instrument, strategy), as the stream worker does; a fill that reverses
    the position closes what is open and opens the rest on the other side.
    """
    books: dict[tuple[Any, ...], list[int]] = {}  # signed open lots, oldest first
    trades = 0
    for e in events:
        if e["type"] != "execution":
            continue
        lots = books.setdefault((e["account"], e["instrument"], e.get("strategy")), [])
        quantity = int(e["quantity"]) if e["side"] == "buy" else -int(e["quantity"])
        while quantity and lots and (lots[0] > 0) != (quantity > 0):
            matched = min(abs(lots[0]), abs(quantity))
            trades += 1
            lots[0] += matched if lots[0] < 0 else -matched
            quantity += matched if quantity < 0 else -matched
            if lots[0] == 0:
                lots.pop(0)
        if quantity:
            lots.append(quantity)
    return trades


@dataclass(slots=True)
class _Order:
    order_id: str
    side: str
    order_type: str
    name: str
    quantity: int
    price: Decimal | None = None  # the limit or the stop price, by order type
    filled: int = 0
    fill_value: Decimal = Decimal(0)


@dataclass(slots=True, kw_only=True)
class _Position:
    sign: int  # +1 long, -1 short
    signal_id: str
    variant: str
    opened_minute: int
    quantity: int = 0
    average_price: Decimal = Decimal(0)

    @property
    def direction(self) -> str:
        return "long" if self.sign > 0 else "short"

    @property
    def exit_side(self) -> str:
        return "sell" if self.sign > 0 else "buy"


@dataclass(slots=True, kw_only=True)
class _Session:
    """The simulation's mutable state; ``run`` appends events to ``events`` in time order."""

    rng: random.Random
    prefix: str
    account: str
    instrument: str
    strategy: str
    tick: Decimal
    point_value: Decimal
    commission: Decimal
    fees: Decimal
    events: list[Event] = field(default_factory=list)
    now: datetime = DEFAULT_START
    counters: Counter[str] = field(default_factory=Counter)
    bars: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # (high, low)
    position: _Position | None = None
    stop: _Order | None = None
    targets: list[_Order] = field(default_factory=list)

    def run(self, start: datetime, minutes: int) -> None:
        self.now = start
        price = self.tick * round(Decimal(20_000 + self.rng.randrange(2_000)) / self.tick)
        drift = 0.0
        self._heartbeat()
        self._define_instrument()
        for minute in range(minutes):
            if minute % 30 == 0:  # a new regime: trending up, down or not at all
                drift = self.rng.choice((-1.5, 0.0, 0.0, 1.5))
            bar_start = start + timedelta(minutes=minute)
            open_, high, low = price, price, price
            for step in range(1, _STEPS + 1):
                price += self.tick * round(self.rng.gauss(drift, 7.0))
                self._at(bar_start + timedelta(seconds=12 * step - 2))
                fills = self._work_exits(price)
                high, low = max(high, price, *fills), min(low, price, *fills)
            self._at(bar_start + timedelta(minutes=1))
            if (minute + 1) % _HEARTBEAT_MINUTES == 0:
                self._heartbeat()
            self._bar(open_, high, low, price)
            if self.position is None:
                if _LOOKBACK <= minute < minutes - _NO_ENTRY_BEFORE_CLOSE:
                    self._maybe_enter(minute, price)
            elif minute == minutes - 1 or minute - self.position.opened_minute >= _MAX_HOLD:
                self._exit_at_market(price)
        self._amend_first_fill()

    def _define_instrument(self) -> None:
        event: Event = {
            "type": "instrument",
            "ts_event": self.now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "source": "demo",
            "producer": PRODUCER,
            "root": self.instrument.split()[0].upper(),
            "instrument": self.instrument,
            "name": f"{self.instrument.split()[0].upper()} (demo)",
            "tick_size": str(self.tick),
            "point_value": str(self.point_value),
            "currency": "USD",
            "exchange": "CME",
        }
        self.events.append(event)
        self.now += _STEP

    def _amend_first_fill(self) -> None:
        """The back office adds the exchange fees to the session's first fill."""
        fill = next((e for e in self.events if e["type"] == "execution"), None)
        if fill is None:
            return
        self._emit(
            "execution_corrected",
            execution_id=fill["execution_id"],
            side=fill["side"],
            quantity=fill["quantity"],
            price=fill["price"],
            commission=fill["commission"],
            fees=str((self.fees * fill["quantity"]).quantize(Decimal("0.01"))),
            executed_at=fill["ts_event"],
            order_id=fill["order_id"],
            reason="exchange fees",
        )

    def _maybe_enter(self, minute: int, close: Decimal) -> None:
        channel = self.bars[-_LOOKBACK - 1 : -1]
        top, bottom = max(high for high, _ in channel), min(low for _, low in channel)
        sign, edge = (1, close - top) if close > top else (-1, bottom - close)
        if edge <= 0 or self.rng.random() < 0.35:  # no breakout, or the filter passes on it
            return
        atr = sum((high - low for high, low in self.bars[-_ATR_BARS:]), Decimal(0)) / _ATR_BARS
        risk = max(self._ticks(atr * Decimal("1.5")), 8 * self.tick)
        stop, target1, target2 = close - sign * risk, close + sign * risk, close + 2 * sign * risk
        width = top - bottom
        position = _Position(
            sign=sign, signal_id=self._id("s"), variant=self.rng.choice("AB"), opened_minute=minute
        )
        self._emit(
            "signal",
            signal_id=position.signal_id,
            direction=position.direction,
            variant=position.variant,
            confidence=round(min(1.0, 0.5 + float(edge / width)), 4) if width else 0.5,
            intended_stop=self._px(stop),
            intended_target=self._px(target2),
            features={"channel_width": float(width), "atr": float(atr), "edge": float(edge)},
        )
        self.position, side, quantity = position, position.exit_side, self.rng.choice((2, 3, 3, 3))
        entry = self._submit("buy" if sign > 0 else "sell", "market", "Entry", quantity)
        self._fill_all(entry, close + sign * self._slippage(), "entry")
        self.stop = self._submit(side, "stop_market", "Stop loss", quantity, stop)
        self.targets = [
            self._submit(side, "limit", "Profit target", 1, target1),
            self._submit(side, "limit", "Profit target", quantity - 1, target2),
        ]

    def _work_exits(self, price: Decimal) -> list[Decimal]:
        """Fill the stop or the targets the price reached; the prices filled at."""
        position, stop = self.position, self.stop
        if position is None or stop is None:
            return []
        assert stop.price is not None
        if (price - stop.price) * position.sign <= 0:
            fills = self._fill_all(stop, stop.price - position.sign * self._slippage(), "exit")
            self._cancel_exits()
            return fills
        fills = []
        for target in list(self.targets):
            assert target.price is not None
            if (price - target.price) * position.sign < 0:
                break
            fills += self._fill_all(target, target.price, "exit")
            self.targets.remove(target)
            if self.position is None:
                self._cancel_exits()
                break
            self._change(stop, "cancelled")  # the rest is protected at break-even
            breakeven = self._ticks(position.average_price)
            stop = self._submit(stop.side, "stop_market", "Stop loss", position.quantity, breakeven)
            self.stop = stop
        return fills

    def _exit_at_market(self, close: Decimal) -> None:
        assert self.position is not None
        position = self.position
        self._cancel_exits()
        exit_order = self._submit(position.exit_side, "market", "Exit", position.quantity)
        self._fill_all(exit_order, close - position.sign * self._slippage(), "exit")

    def _cancel_exits(self) -> None:
        for order in (self.stop, *self.targets):
            if order is not None and order.filled < order.quantity:
                self._change(order, "cancelled")
        self.stop, self.targets = None, []

    def _slippage(self) -> Decimal:
        return self.tick * self.rng.choice((0, 0, 1))

    def _submit(
        self, side: str, order_type: str, name: str, quantity: int, price: Decimal | None = None
    ) -> _Order:
        order = _Order(self._id("o"), side, order_type, name, quantity, price)
        for state in ("submitted", "accepted", "working"):
            self._change(order, state)
        return order

    def _fill_all(self, order: _Order, price: Decimal, effect: str) -> list[Decimal]:
        """Fill what is left of an order, sometimes in two parts; the prices filled at.

        A second part of a market or stop order may slip a tick; a limit fills at its price.
        """
        left = order.quantity - order.filled
        parts = [left - 1, 1] if left >= 2 and self.rng.random() < 0.4 else [left]
        prices = [price] * len(parts)
        if len(parts) == 2 and order.order_type != "limit" and self.rng.random() < 0.5:
            prices[1] += self.tick if order.side == "buy" else -self.tick
        for quantity, fill_price in zip(parts, prices, strict=True):
            self._fill(order, quantity, fill_price, effect)
        return prices

    def _fill(self, order: _Order, quantity: int, price: Decimal, effect: str) -> None:
        position = self.position
        assert position is not None
        self._emit(
            "execution",
            execution_id=self._id("x"),
            side=order.side,
            quantity=quantity,
            price=self._px(price),
            commission=str((self.commission * quantity).quantize(Decimal("0.01"))),
            fees="0.00",
            order_id=order.order_id,
            order_name=order.name,
            position_effect=effect,
            variant=position.variant,
            signal_id=position.signal_id,
        )
        order.filled += quantity
        order.fill_value += price * quantity
        self._change(order, "filled" if order.filled == order.quantity else "part_filled")
        if effect == "entry":
            cost = position.average_price * position.quantity + price * quantity
            position.quantity += quantity
            position.average_price = cost / position.quantity
        else:
            position.quantity -= quantity
        flat = position.quantity == 0
        self._emit(
            "position",
            market_position="flat" if flat else position.direction,
            quantity=position.quantity,
            average_price="0" if flat else self._average(position.average_price),
        )
        if flat:
            self.position = None

    def _change(self, order: _Order, state: str) -> None:
        average = order.fill_value / order.filled if order.filled else None
        self._emit(
            "order",
            order_id=order.order_id,
            side=order.side,
            order_type=order.order_type,
            state=state,
            quantity=order.quantity,
            filled=order.filled,
            limit_price=self._px(order.price) if order.order_type == "limit" else None,
            stop_price=self._px(order.price) if order.order_type == "stop_market" else None,
            average_fill_price=self._average(average),
            order_name=order.name,
        )

    # -- market data and plumbing ----------------------------------------------------------

    def _bar(self, open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> None:
        self.bars.append((high, low))
        self._emit(
            "bar",
            period="1 Minute",
            open=self._px(open_),
            high=self._px(high),
            low=self._px(low),
            close=self._px(close),
            volume=self.rng.randrange(200, 3_000),
            bid=self._px(close),
            ask=self._px(close + self.tick),
        )

    def _heartbeat(self) -> None:
        self.counters["heartbeat"] += 1
        self._emit(
            "heartbeat",
            connection="demo",
            accounts=[self.account],
            sequence=self.counters["heartbeat"],
            queue_depth=0,
        )

    def _emit(self, kind: str, **fields: Any) -> None:
        event: Event = {
            "type": kind,
            "ts_event": self.now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "source": "demo",
            "producer": PRODUCER,
        }
        if kind not in ("bar", "heartbeat"):  # bars belong to no account, heartbeats to several
            event["account"] = self.account
            if kind != "execution_corrected":  # an amendment names the execution alone
                event["strategy"] = self.strategy
        if kind != "heartbeat":
            event["instrument"] = self.instrument
        event.update((k, v) for k, v in fields.items() if v is not None)
        self.events.append(event)
        self.now += _STEP

    def _at(self, moment: datetime) -> None:
        self.now = max(self.now, moment)

    def _id(self, kind: str) -> str:
        self.counters[kind] += 1
        return f"{self.prefix}-{kind}{self.counters[kind]}"

    def _ticks(self, value: Decimal) -> Decimal:
        """``value`` rounded to the tick grid."""
        return self.tick * (value / self.tick).to_integral_value()

    def _px(self, price: Decimal | None) -> str | None:
        return None if price is None else str(price.quantize(self.tick))

    def _average(self, price: Decimal | None) -> str | None:
        if price is None:
            return None
        on_grid = price % self.tick == 0
        return self._px(price) if on_grid else str(price.quantize(_AVERAGE_PLACES))
