"""Paper trading a signal on bars: the fill model of shadow mode. Pure.

A signal (``SignalEmitted``: direction, ``intended_stop``, ``intended_target``) is simulated on
its instrument's bars that close after it, one contract unless told:

- **Entry**: a market order at the open of the first bar that closes after the signal, moved
  against the trade by ``slippage_ticks``.
- **Exit**: a bar that reaches the stop (a long's low at or below it, a short's high at or above
  it) exits at the stop, moved against the trade by ``slippage_ticks``; a bar that opens beyond
  the stop (a gap, or an entry beyond it) exits at its open, slipped likewise. A bar that
  touches the target exits there without slippage (a resting limit order filled on touch). A bar
  that reaches both exits at the stop: within one bar the order of the two is unknown, and the
  worse one is assumed.
  The entry bar counts, from its open on.
- **Costs**: ``commission_per_contract`` for each side.

Without a stop and a target the signal cannot be simulated (``PaperError``); with bars not yet
reaching either, the trade is ``open``: ``simulate`` returns it with no exit, and simulating again
with more bars carries on from the start (same bars, same answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.errors import ConfigError
from domain.contracts import ContractSpec
from domain.errors import PaperError
from schemas.events import BarClosed, Direction, SignalEmitted

PAPER_PREFIX = "PAPER:"
"""Paper trades are the account's with this prefix (``PAPER:Sim101``), so their positions and
figures never mix with the live account's."""


def paper_account(account: str) -> bool:
    """Whether ``account`` is a paper account."""
    return account.startswith(PAPER_PREFIX)


class PaperExit(StrEnum):
    STOP = "stop"
    TARGET = "target"


@dataclass(frozen=True, slots=True, kw_only=True)
class FillModel:
    slippage_ticks: int = 1
    commission_per_contract: Decimal = Decimal("2.09")
    """Each side; NinjaTrader's default simulated commission for CME index futures."""

    def __post_init__(self) -> None:
        if self.slippage_ticks < 0:
            raise ConfigError("slippage_ticks", f"must not be negative, was {self.slippage_ticks}")
        if not (self.commission_per_contract.is_finite() and self.commission_per_contract >= 0):
            raise ConfigError(
                "commission_per_contract",
                f"must be a non-negative amount, was {self.commission_per_contract}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperTrade:
    signal_id: str
    instrument: str
    direction: Direction
    quantity: int
    entry_time: datetime
    """The entry bar's close: when the simulation knew of the fill."""
    entry_price: Decimal
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit: PaperExit | None = None
    commission: Decimal
    """Both sides once exited, the entry's while open."""
    gross_pnl: Decimal | None = None
    net_pnl: Decimal | None = None


def simulate(
    signal: SignalEmitted,
    bars: Sequence[BarClosed],
    spec: ContractSpec,
    model: FillModel,
    quantity: int = 1,
) -> PaperTrade | None:
    """The paper trade of ``signal`` on ``bars`` (its instrument's, in close-time order); None
    while no bar has closed after the signal."""
    check(signal)
    trade = None
    for bar in bars:
        if bar.envelope.ts_event <= signal.envelope.ts_event:
            continue
        if trade is None:
            trade = enter(signal, bar, spec, model, quantity)
        else:
            trade = step(trade, signal, bar, spec, model)
        if trade.exit is not None:
            break
    return trade


def check(signal: SignalEmitted) -> None:
    """Refuse a signal that cannot be paper-traded, saying why."""
    stop, target = signal.intended_stop, signal.intended_target
    if stop is None or target is None:
        raise PaperError(f"signal {signal.signal_id}: needs intended_stop and intended_target")
    if signal.direction not in (Direction.LONG, Direction.SHORT):
        raise PaperError(f"signal {signal.signal_id}: direction must be long or short")
    long = signal.direction is Direction.LONG
    if (stop >= target) if long else (stop <= target):
        raise PaperError(
            f"signal {signal.signal_id}: a {signal.direction.value} needs its stop "
            f"{'below' if long else 'above'} its target, has stop {stop} and target {target}"
        )


def enter(
    signal: SignalEmitted, bar: BarClosed, spec: ContractSpec, model: FillModel, quantity: int = 1
) -> PaperTrade:
    """The trade entered at ``bar``'s open (the first bar closing after the signal), and exited
    already if ``bar`` reaches the stop or the target."""
    sign = 1 if signal.direction is Direction.LONG else -1
    opened = PaperTrade(
        signal_id=signal.signal_id, instrument=signal.instrument, direction=signal.direction,
        quantity=quantity, entry_time=bar.envelope.ts_event,
        entry_price=bar.open + sign * spec.tick_size * model.slippage_ticks,
        commission=model.commission_per_contract * quantity,
    )  # fmt: skip
    return step(opened, signal, bar, spec, model)


def step(
    trade: PaperTrade, signal: SignalEmitted, bar: BarClosed, spec: ContractSpec, model: FillModel
) -> PaperTrade:
    """``trade`` after ``bar``: exited if the bar reaches the stop or the target."""
    if trade.exit is not None:
        return trade
    assert signal.intended_stop is not None and signal.intended_target is not None
    long = signal.direction is Direction.LONG
    slip = spec.tick_size * model.slippage_ticks
    found = _exit(bar, signal.intended_stop, signal.intended_target, long, slip)
    if found is None:
        return trade
    price, reason = found
    gross = (price - trade.entry_price) * (1 if long else -1) * spec.point_value * trade.quantity
    both = 2 * model.commission_per_contract * trade.quantity
    return replace(
        trade, exit_time=bar.envelope.ts_event, exit_price=price, exit=reason, commission=both,
        gross_pnl=gross, net_pnl=gross - both,
    )  # fmt: skip


def _exit(
    bar: BarClosed, stop: Decimal, target: Decimal, long: bool, slip: Decimal
) -> tuple[Decimal, PaperExit] | None:
    """Where ``bar`` takes the trade out, if it does (see the module docstring)."""
    if long:
        if bar.low <= stop:
            return min(bar.open, stop) - slip, PaperExit.STOP
        if bar.high >= target:
            return target, PaperExit.TARGET
        return None
    if bar.high >= stop:
        return max(bar.open, stop) + slip, PaperExit.STOP
    if bar.low <= target:
        return target, PaperExit.TARGET
    return None
