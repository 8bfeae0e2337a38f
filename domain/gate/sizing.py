"""Position sizing: how many whole contracts an entry should trade, with the arithmetic.

- ``fixed``: ``contracts`` (else the strategy's own quantity);
- ``fixed_fraction``: ``equity × risk_fraction`` at risk, divided by one contract's risk
  ``|entry − stop| × point value``;
- ``volatility``: ``risk_budget`` divided by ``atr_multiple × ATR × point value`` (Wilder's ATR of
  the instrument's last bars);
- ``kelly``: the Kelly fraction ``W − (1 − W) / R`` of the strategy's live trades (win rate W,
  average win over average loss R; those in the current regime once there are ``min_trades`` of
  them), times ``kelly_fraction`` and capped at ``max_fraction``, as the equity at risk over one
  contract's risk. Fewer than ``min_trades`` trades: the strategy's own quantity.

Equity is the configured starting equity plus the account's realized P&L. Quantities are rounded
down; ``max_contracts`` and the rules' caps bound them. An entry without a stop, or with the stop
at the entry, has no risk to size by: sized to 0 and refused, never divided by zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from domain.gate.rules import Sizing, SizingMethod
from schemas.events import BarClosed

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sized:
    quantity: int
    method: SizingMethod
    arithmetic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeStats:
    """A strategy's closed trades' figures for Kelly."""

    trades: int
    wins: int
    average_win: Decimal
    average_loss: Decimal
    """As a positive amount."""
    regime: str | None = None


def size(
    sizing: Sizing,
    *,
    proposed: int,
    entry: Decimal,
    stop: Decimal | None,
    point_value: Decimal,
    equity: Decimal | None,
    bars: Sequence[BarClosed] = (),
    stats: TradeStats | None = None,
) -> Sized:
    """The quantity ``sizing`` gives an entry, before the rules' caps."""
    method = sizing.method
    if method is SizingMethod.FIXED:
        if sizing.contracts is None:
            return _capped(sizing, proposed, f"fixed: the strategy's {proposed}")
        return _capped(sizing, sizing.contracts, f"fixed: {sizing.contracts} contracts")
    if method is SizingMethod.VOLATILITY:
        assert sizing.risk_budget is not None
        value = atr(bars, sizing.atr_period)
        if value is None:
            return Sized(quantity=0, method=method, arithmetic=(
                f"volatility: no ATR({sizing.atr_period}) yet ({len(bars)} bars of "
                f"{sizing.atr_period + 1} needed)"))  # fmt: skip
        per_contract = sizing.atr_multiple * value * point_value
        if per_contract <= 0:
            return Sized(quantity=0, method=method, arithmetic="volatility: ATR is 0, no risk")
        quantity = _floor(sizing.risk_budget / per_contract)
        return _capped(sizing, quantity, (
            f"volatility: floor({sizing.risk_budget} / ({sizing.atr_multiple} × ATR "
            f"{_q(value)} × {point_value})) = floor({sizing.risk_budget} / "
            f"{_q(per_contract)}) = {quantity}"))  # fmt: skip
    risk = _risk(entry, stop, point_value)
    if risk is None:
        return Sized(quantity=0, method=method, arithmetic=(
            f"{method}: refused, no risk to size by (stop {stop} at entry {entry})"))  # fmt: skip
    assert equity is not None
    if method is SizingMethod.FIXED_FRACTION:
        budget = equity * sizing.risk_fraction
        quantity = _floor(budget / risk)
        return _capped(sizing, quantity, (
            f"fixed_fraction: floor(equity {_q(equity)} × {sizing.risk_fraction} / "
            f"(|{entry} − {stop}| × {point_value})) = floor({_q(budget)} / {_q(risk)}) "
            f"= {quantity}"))  # fmt: skip
    return _kelly(sizing, proposed=proposed, risk=risk, equity=equity, stats=stats)


def _kelly(
    sizing: Sizing, *, proposed: int, risk: Decimal, equity: Decimal, stats: TradeStats | None
) -> Sized:
    if stats is None or stats.trades < sizing.min_trades or stats.average_loss <= 0:
        count = 0 if stats is None else stats.trades
        return _capped(sizing, proposed, (
            f"kelly: {count} trades of {sizing.min_trades} needed; "
            f"the strategy's {proposed}"))  # fmt: skip
    win_rate = Decimal(stats.wins) / stats.trades
    payoff = stats.average_win / stats.average_loss
    kelly = win_rate - (1 - win_rate) / payoff
    where = f" in {stats.regime}" if stats.regime else ""
    if kelly <= 0:
        return Sized(quantity=0, method=SizingMethod.KELLY, arithmetic=(
            f"kelly: no edge{where}: W {_q(win_rate)} − (1 − W) / R {_q(payoff)} = "
            f"{_q(kelly)}"))  # fmt: skip
    fraction = min(kelly * sizing.kelly_fraction, sizing.max_fraction)
    quantity = _floor(equity * fraction / risk)
    return _capped(sizing, quantity, (
        f"kelly: {stats.trades} trades{where}, W {_q(win_rate)}, R {_q(payoff)}, "
        f"f* {_q(kelly)} × {sizing.kelly_fraction} capped at {sizing.max_fraction} = "
        f"{fraction.quantize(Decimal('0.0001'))}; floor(equity {_q(equity)} × f / risk "
        f"{_q(risk)}) = {quantity}"))  # fmt: skip


def _capped(sizing: Sizing, quantity: int, arithmetic: str) -> Sized:
    if sizing.max_contracts is not None and quantity > sizing.max_contracts:
        quantity = sizing.max_contracts
        arithmetic += f"; capped at max_contracts {sizing.max_contracts}"
    return Sized(quantity=quantity, method=sizing.method, arithmetic=arithmetic)


def _risk(entry: Decimal, stop: Decimal | None, point_value: Decimal) -> Decimal | None:
    if stop is None or stop == entry:
        return None
    return abs(entry - stop) * point_value


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _q(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


def atr(bars: Sequence[BarClosed], period: int) -> Decimal | None:
    """Wilder's average true range of ``bars`` (oldest first): seeded by the mean of the first
    ``period`` true ranges, then ``(ATR × (n − 1) + TR) / n``; None with too few bars."""
    if len(bars) < period + 1:
        return None
    ranges = [
        max(bar.high - bar.low, abs(bar.high - before.close), abs(bar.low - before.close))
        for before, bar in zip(bars, bars[1:], strict=False)
    ]
    value = sum(ranges[:period], Decimal(0)) / period
    for true_range in ranges[period:]:
        value = (value * (period - 1) + true_range) / period
    return value
