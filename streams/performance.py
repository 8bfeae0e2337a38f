"""Performance of closed trades: the figures, their definitions and version. Pure.

``summarize(trades)`` turns closed trades (oldest first) into a ``Performance`` snapshot;
``per_trading_day`` and ``last_trades`` are the windows, ``group`` the scopes. Money stays exact
(``Decimal``, the trades' currency); ratios are floats. A figure that is undefined for the trades
given (a win rate without decided trades, a profit factor without a loss) is ``None``, never a
made-up 0 or infinity.

Definitions, version ``DEFINITIONS_VERSION`` (bump it when one changes; every snapshot names it):

- A trade *wins* when its net PnL (after commission and fees) is above 0, *loses* below 0, and is
  a *breakeven* at exactly 0.
- ``win_rate`` = wins / (wins + losses): breakevens decide nothing. NinjaTrader's "Percent
  profitable" counts them against: ``nt_percent_profitable`` = wins / trades.
- ``gross_profit`` = Σ net of winners, ``gross_loss`` = Σ net of losers (≤ 0), ``net_profit`` =
  Σ net. ``avg_win`` = gross_profit / wins, ``avg_loss`` = gross_loss / losses (negative),
  ``payoff_ratio`` = avg_win / |avg_loss|, ``profit_factor`` = gross_profit / |gross_loss|,
  ``expectancy`` = net_profit / trades (the average trade).
- The equity curve is the cumulative net profit after each trade, from 0 before the first.
  ``max_drawdown`` is the largest fall from a running peak (the peak starts at 0, so a first
  losing trade is a drawdown); ``current_drawdown`` is the last point's distance below its peak.
  Both are positive amounts. NinjaTrader's summary grid shows the current drawdown after each
  period as "Cum. max. drawdown", negated. ``max_drawdown_pct`` = the largest fall as a share of
  the capital at the peak (``capital`` + peak equity); it needs the starting ``capital``.
  ``recovery_factor`` = net_profit / max_drawdown.
- Daily PnL: net profit per *trading day*, every weekday from the first trading day to the last,
  0 on days without a closed trade. A trade's trading day is the CME session date of its exit:
  its exit time in America/Chicago, moved to the next day from 17:00 on, and from a Saturday or
  Sunday to the Monday.
- ``sharpe`` = mean(daily PnL) / sample standard deviation × √252 (annualized over 252 trading
  days, risk-free rate 0). Dividing daily PnL by a constant capital gives returns with the same
  figure, so no capital is needed. ``sortino`` = mean(daily PnL) / downside deviation × √252, the
  downside deviation being √(mean(min(daily PnL, 0)²)) over all days (target 0): empyrical's
  definitions. Both need two days and a spread; else ``None``.
- NinjaTrader's Sharpe ratio is monthly and in currency, not annualized: ``nt_sharpe_monthly`` =
  mean(monthly profit) / sample standard deviation of monthly profit, over the calendar months of
  the trading days from the first to the last (0 for a month without trades), risk-free rate 0.
- ``sqn`` (Van Tharp's System Quality Number) = √min(trades, 100) × mean(R) / sample standard
  deviation of R, where R is each trade's R-multiple when every trade has an initial risk, else
  its net PnL (``sqn_basis`` says which).
- ``longest_win_streak`` / ``longest_loss_streak``: most consecutive wins / losses; a breakeven
  ends both.
- MAE and MFE are positive currency amounts (NinjaTrader's export convention). ``avg_etd`` =
  mean(MFE − gross PnL): what was given back from the best point (NinjaTrader's ETD).
  Efficiencies over trades with MAE and MFE and a range (MAE + MFE > 0): ``entry_efficiency`` =
  mean(MFE / range), ``exit_efficiency`` = mean((gross + MAE) / range), ``total_efficiency`` =
  mean(gross / range): how much of the price range seen during the trade was captured.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from schemas.events import TradeClosed, TradeReported

DEFINITIONS_VERSION = 1
TRADING_DAYS_PER_YEAR = 252
SQN_TRADE_CAP = 100

SESSION_ZONE = ZoneInfo("America/Chicago")
SESSION_ROLLOVER = time(17, 0)
"""CME Globex sessions begin at 17:00 Chicago time: what closes after it counts for the next day."""

K = TypeVar("K", bound=Hashable)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeResult:
    """What the figures need of one closed trade."""

    exit_time: datetime
    """Aware; sets the trade's trading day."""
    net: Decimal
    """PnL after commission and fees."""
    gross: Decimal
    """PnL before commission and fees."""
    mae: Decimal | None = None
    mfe: Decimal | None = None
    risk: Decimal | None = None
    """The initial risk in currency (entry to initial stop), for R-multiples."""

    @classmethod
    def of(cls, trade: TradeClosed | TradeReported) -> TradeResult:
        """A trade we derived, or one NinjaTrader reported (its Profit is net of costs)."""
        if isinstance(trade, TradeClosed):
            return cls(
                exit_time=trade.exit_time,
                net=trade.net_pnl,
                gross=trade.gross_pnl,
                mae=trade.mae,
                mfe=trade.mfe,
            )
        return cls(
            exit_time=trade.exit_time,
            net=trade.profit,
            gross=trade.profit + trade.commission + trade.fees,
            mae=trade.mae,
            mfe=trade.mfe,
        )

    @property
    def trading_day(self) -> date:
        return trading_day(self.exit_time)

    @property
    def r_multiple(self) -> float | None:
        return float(self.net / self.risk) if self.risk else None


class SqnBasis(StrEnum):
    R_MULTIPLE = "r-multiple"
    NET_PNL = "net-pnl"


@dataclass(frozen=True, slots=True, kw_only=True)
class Performance:
    """The figures of a set of closed trades (see the module's definitions)."""

    definitions_version: int
    trades: int
    wins: int
    losses: int
    breakevens: int
    win_rate: float | None
    nt_percent_profitable: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    net_profit: Decimal
    avg_win: Decimal | None
    avg_loss: Decimal | None
    payoff_ratio: float | None
    profit_factor: float | None
    expectancy: Decimal | None
    max_drawdown: Decimal
    max_drawdown_pct: float | None
    current_drawdown: Decimal
    recovery_factor: float | None
    trading_days: int
    sharpe: float | None
    sortino: float | None
    nt_sharpe_monthly: float | None
    sqn: float | None
    sqn_basis: SqnBasis
    avg_r: float | None
    longest_win_streak: int
    longest_loss_streak: int
    avg_mae: Decimal | None
    avg_mfe: Decimal | None
    avg_etd: Decimal | None
    entry_efficiency: float | None
    exit_efficiency: float | None
    total_efficiency: float | None
    first_exit: datetime | None
    last_exit: datetime | None


def trading_day(moment: datetime) -> date:
    """The CME session date of an aware ``moment`` (see the module's definitions)."""
    local = moment.astimezone(SESSION_ZONE)
    day = local.date() + timedelta(days=1 if local.time() >= SESSION_ROLLOVER else 0)
    if day.weekday() >= 5:  # Saturday, Sunday: the Monday session
        day += timedelta(days=7 - day.weekday())
    return day


def summarize(trades: Sequence[TradeResult], *, capital: Decimal | None = None) -> Performance:
    """The figures of ``trades``, oldest first; ``capital`` (the starting equity) enables
    ``max_drawdown_pct``."""
    nets = [t.net for t in trades]
    winners = [n for n in nets if n > 0]
    losers = [n for n in nets if n < 0]
    gross_profit = sum(winners, _ZERO)
    gross_loss = sum(losers, _ZERO)
    net_profit = sum(nets, _ZERO)
    decided = len(winners) + len(losers)
    avg_win = gross_profit / len(winners) if winners else None
    avg_loss = gross_loss / len(losers) if losers else None
    drawdown = drawdowns(nets, capital=capital)
    daily = daily_pnl(trades)
    sqn, basis, avg_r = _sqn(trades)
    wins_streak, loss_streak = streaks(nets)
    excursions = [t for t in trades if t.mae is not None and t.mfe is not None]
    return Performance(
        definitions_version=DEFINITIONS_VERSION,
        trades=len(trades),
        wins=len(winners),
        losses=len(losers),
        breakevens=len(trades) - decided,
        win_rate=len(winners) / decided if decided else None,
        nt_percent_profitable=len(winners) / len(trades) if trades else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        net_profit=net_profit,
        avg_win=avg_win,
        avg_loss=avg_loss,
        payoff_ratio=_ratio(avg_win, -avg_loss) if avg_win and avg_loss else None,
        profit_factor=_ratio(gross_profit, -gross_loss),
        expectancy=net_profit / len(trades) if trades else None,
        max_drawdown=drawdown.max,
        max_drawdown_pct=drawdown.max_pct,
        current_drawdown=drawdown.current,
        recovery_factor=_ratio(net_profit, drawdown.max),
        trading_days=len(daily),
        sharpe=sharpe(list(daily.values())),
        sortino=sortino(list(daily.values())),
        nt_sharpe_monthly=nt_sharpe_monthly(daily),
        sqn=sqn,
        sqn_basis=basis,
        avg_r=avg_r,
        longest_win_streak=wins_streak,
        longest_loss_streak=loss_streak,
        avg_mae=_mean([t.mae for t in excursions if t.mae is not None]),
        avg_mfe=_mean([t.mfe for t in excursions if t.mfe is not None]),
        avg_etd=_mean([t.mfe - t.gross for t in excursions if t.mfe is not None]),
        **_efficiencies(excursions),
        first_exit=min((t.exit_time for t in trades), default=None),
        last_exit=max((t.exit_time for t in trades), default=None),
    )


@dataclass(frozen=True, slots=True)
class Drawdowns:
    max: Decimal
    max_pct: float | None
    current: Decimal
    curve: tuple[Decimal, ...]
    """The current drawdown after each trade."""


def drawdowns(nets: Iterable[Decimal], *, capital: Decimal | None = None) -> Drawdowns:
    """Drawdowns of the equity curve of ``nets`` (peak starting at 0)."""
    equity = peak = worst = _ZERO
    worst_pct: float | None = 0.0 if capital is not None else None
    curve = []
    for net in nets:
        equity += net
        peak = max(peak, equity)
        fall = peak - equity
        worst = max(worst, fall)
        if capital is not None and worst_pct is not None and capital + peak > 0:
            worst_pct = max(worst_pct, float(fall / (capital + peak)))
        curve.append(fall)
    return Drawdowns(
        max=worst, max_pct=worst_pct, current=curve[-1] if curve else _ZERO, curve=tuple(curve)
    )


def daily_pnl(trades: Iterable[TradeResult]) -> dict[date, Decimal]:
    """Net profit per trading day, every weekday from the first to the last (0 when idle)."""
    totals: dict[date, Decimal] = defaultdict(lambda: _ZERO)
    for t in trades:
        totals[t.trading_day] += t.net
    if not totals:
        return {}
    day, last = min(totals), max(totals)
    days: dict[date, Decimal] = {}
    while day <= last:
        if day.weekday() < 5:
            days[day] = totals.get(day, _ZERO)
        day += timedelta(days=1)
    return days


def sharpe(daily: Sequence[Decimal | float]) -> float | None:
    """Annualized Sharpe ratio of daily PnL (or returns), risk-free rate 0."""
    ratio = _mean_over_spread([float(v) for v in daily])
    return None if ratio is None else ratio * math.sqrt(TRADING_DAYS_PER_YEAR)


def sortino(daily: Sequence[Decimal | float]) -> float | None:
    """Annualized Sortino ratio of daily PnL (or returns), target 0."""
    values = [float(v) for v in daily]
    if len(values) < 2:
        return None
    downside = math.sqrt(statistics.fmean(min(v, 0.0) ** 2 for v in values))
    if downside == 0:
        return None
    return statistics.fmean(values) / downside * math.sqrt(TRADING_DAYS_PER_YEAR)


def nt_sharpe_monthly(daily: dict[date, Decimal]) -> float | None:
    """NinjaTrader's Sharpe ratio: monthly profit over its standard deviation, not annualized."""
    if not daily:
        return None
    months: dict[tuple[int, int], Decimal] = {}
    first, last = min(daily), max(daily)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months[(year, month)] = _ZERO
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for day, pnl in daily.items():
        months[(day.year, day.month)] += pnl
    return _mean_over_spread([float(v) for v in months.values()])


def streaks(nets: Iterable[Decimal]) -> tuple[int, int]:
    """The longest runs of consecutive wins and of consecutive losses."""
    best_win = best_loss = win = loss = 0
    for net in nets:
        win = win + 1 if net > 0 else 0
        loss = loss + 1 if net < 0 else 0
        best_win, best_loss = max(best_win, win), max(best_loss, loss)
    return best_win, best_loss


def per_trading_day(
    trades: Sequence[TradeResult], *, capital: Decimal | None = None
) -> dict[date, Performance]:
    """The figures of each trading day's trades."""
    days: dict[date, list[TradeResult]] = defaultdict(list)
    for t in trades:
        days[t.trading_day].append(t)
    return {day: summarize(ts, capital=capital) for day, ts in sorted(days.items())}


def last_trades(
    trades: Sequence[TradeResult], count: int, *, capital: Decimal | None = None
) -> Performance:
    """The figures of the last ``count`` trades (a rolling window)."""
    if count <= 0:
        raise ValueError(f"a rolling window needs at least one trade, was {count}")
    return summarize(trades[-count:], capital=capital)


def group(
    trades: Iterable[TradeResult], key: Callable[[TradeResult], K]
) -> dict[K, list[TradeResult]]:
    """Trades by scope (account, strategy, variant, instrument, regime), order kept."""
    scopes: dict[K, list[TradeResult]] = defaultdict(list)
    for t in trades:
        scopes[key(t)].append(t)
    return dict(scopes)


def _sqn(trades: Sequence[TradeResult]) -> tuple[float | None, SqnBasis, float | None]:
    rs = [t.r_multiple for t in trades]
    if trades and all(r is not None for r in rs):
        values = [r for r in rs if r is not None]
        basis = SqnBasis.R_MULTIPLE
        avg_r: float | None = statistics.fmean(values)
    else:
        values = [float(t.net) for t in trades]
        basis = SqnBasis.NET_PNL
        avg_r = None
    quality = _mean_over_spread(values)
    if quality is None:
        return None, basis, avg_r
    return math.sqrt(min(len(values), SQN_TRADE_CAP)) * quality, basis, avg_r


def _efficiencies(trades: Sequence[TradeResult]) -> dict[str, float | None]:
    entry, exit_, total = [], [], []
    for t in trades:
        assert t.mae is not None and t.mfe is not None
        span = t.mae + t.mfe
        if span > 0:
            entry.append(float(t.mfe / span))
            exit_.append(float((t.gross + t.mae) / span))
            total.append(float(t.gross / span))
    return {
        "entry_efficiency": statistics.fmean(entry) if entry else None,
        "exit_efficiency": statistics.fmean(exit_) if exit_ else None,
        "total_efficiency": statistics.fmean(total) if total else None,
    }


def _mean_over_spread(values: Sequence[float]) -> float | None:
    """Mean / sample standard deviation; None for fewer than two values or no spread."""
    if len(values) < 2:
        return None
    spread = statistics.stdev(values)
    return statistics.fmean(values) / spread if spread else None


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(numerator / denominator)


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, _ZERO) / len(values) if values else None
