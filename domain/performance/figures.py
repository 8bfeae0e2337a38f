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
  the equity at its peak: the starting ``capital`` plus the peak of the curve (a fall from a
  peak at or below zero equity is not counted); without a capital it is ``None``. A window that
  starts later than the first trade (a trading day, the last N trades) starts from the capital
  plus the net profit of the trades before it.
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
  ends both. ``current_win_streak`` / ``current_loss_streak``: the consecutive wins / losses
  ending with the newest trade (0 when it is a loss / win, both 0 after a breakeven).
- ``avg_r`` = mean R-multiple (net PnL / initial risk), only when every trade has an initial
  risk; else ``None``.
- MAE and MFE are positive currency amounts (NinjaTrader's export convention); ``avg_mae`` and
  ``avg_mfe`` are their means over the trades that have them. ``avg_etd`` =
  mean(MFE − gross PnL): what was given back from the best point (NinjaTrader's ETD).
  Efficiencies over trades with MAE and MFE and a range (MAE + MFE > 0): ``entry_efficiency`` =
  mean(MFE / range), ``exit_efficiency`` = mean((gross + MAE) / range), ``total_efficiency`` =
  mean(gross / range): how much of the price range seen during the trade was captured.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from domain.errors import TallyError, TradingDayError, WindowSizeError
from schemas.events import Source, TradeClosed, TradeReported

DEFINITIONS_VERSION = 1
TRADING_DAYS_PER_YEAR = 252
SQN_TRADE_CAP = 100

SESSION_ZONE = ZoneInfo("America/Chicago")
SESSION_ROLLOVER = time(17, 0)
"""CME Globex sessions begin at 17:00 Chicago time: what closes after it counts for the next day."""

K = TypeVar("K", bound=Hashable)
_ZERO = Decimal(0)
_WIDE = Context(prec=60)
"""The precision of the per-trade quotients (R-multiples, efficiencies) and of the figures
computed from the sums."""
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""For sums, products of money and the equity curve only (never a division): every result
exact, so a set of trades sums to the same value in any order and grouping."""


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
    trade_id: str = ""
    currency: str | None = None
    ts_ingested: datetime | None = None
    """When the bridge recorded the trade's last execution."""
    imported: bool = False
    """From a Trades export (history): the figures count it; alerts it raises are history too,
    recorded but not sent."""
    trading_day: date = field(init=False, repr=False, compare=False)
    """The CME session date of the exit (``trading_day()``), worked out once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "trading_day", trading_day(self.exit_time))

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
                risk=trade.risk,
                trade_id=trade.trade_id,
                currency=trade.currency,
                ts_ingested=trade.envelope.ts_ingested,
                imported=trade.envelope.source is Source.IMPORT,
            )
        return cls(
            exit_time=trade.exit_time,
            net=trade.profit,
            gross=trade.profit + trade.commission + trade.fees,
            mae=trade.mae,
            mfe=trade.mfe,
            trade_id=str(trade.trade_number),
            currency=trade.currency,
            ts_ingested=trade.envelope.ts_ingested,
            imported=True,
        )


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
    current_win_streak: int
    current_loss_streak: int
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


def session_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants ``[start, end)`` whose ``trading_day`` is the weekday ``day``: from the
    previous weekday's rollover to ``day``'s."""
    if day.weekday() >= 5:
        raise TradingDayError(day)
    previous = day - timedelta(days=3 if day.weekday() == 0 else 1)
    return (
        datetime.combine(previous, SESSION_ROLLOVER, SESSION_ZONE),
        datetime.combine(day, SESSION_ROLLOVER, SESSION_ZONE),
    )


def summarize(trades: Sequence[TradeResult], *, capital: Decimal | None = None) -> Performance:
    """The figures of ``trades``, oldest first; ``capital`` (the starting equity) enables
    ``max_drawdown_pct``."""
    tally = Tally(capital=capital)
    for t in trades:
        tally.add(t)
    return tally.performance()


@dataclass(slots=True, kw_only=True)
class Tally:
    """The running sums behind ``Performance``: add trades oldest first, read the figures at any
    time in O(trading days). Sums are exact (``_EXACT``), so the figures of a set of trades do
    not depend on how it was added up; the equity curve and the streaks follow the order the
    trades are added in.

    Tallies compose: ``a.extend(b)`` makes ``a`` the tally of ``a``'s trades followed by
    ``b``'s, exactly as if ``b``'s had been added one by one, so a long ordered run can be
    tallied in pieces and a piece recounted alone. For the drawdown as a share of equity, a tally
    without a capital keeps its equity curve's ``segments``: each peak, and the lowest equity
    after it before the next higher peak; that is all a later start, or a tally it extends,
    needs to know of the curve. A tally with a capital (or ``segments=None``) keeps none."""

    capital: Decimal | None = None
    trades: int = 0
    wins: int = 0
    losses: int = 0
    gross_profit: Decimal = _ZERO
    gross_loss: Decimal = _ZERO
    net_squares: Decimal = _ZERO
    with_risk: int = 0
    r_sum: Decimal = _ZERO
    r_squares: Decimal = _ZERO
    equity: Decimal = _ZERO
    peak: Decimal = _ZERO
    trough: Decimal = _ZERO
    """The lowest point of the equity curve (from 0): what a run before it falls by, at most."""
    max_drawdown: Decimal = _ZERO
    max_drawdown_pct: float | None = None
    win_run: int = 0
    loss_run: int = 0
    lead_win: int = 0
    """Wins (losses) in a row from the first trade: what a run before it continues."""
    lead_loss: int = 0
    longest_win: int = 0
    longest_loss: int = 0
    daily: dict[date, Decimal] = field(default_factory=dict)
    excursions: int = 0
    mae_sum: Decimal = _ZERO
    mfe_sum: Decimal = _ZERO
    etd_sum: Decimal = _ZERO
    ranged: int = 0
    entry_sum: Decimal = _ZERO
    exit_sum: Decimal = _ZERO
    total_sum: Decimal = _ZERO
    first_exit: datetime | None = None
    last_exit: datetime | None = None
    segments: list[tuple[Decimal, Decimal]] | None = field(default_factory=lambda: [(_ZERO, _ZERO)])
    """(peak, lowest equity after it until a higher peak), from the tally's start at 0."""

    def __post_init__(self) -> None:
        if self.capital is not None:
            self.segments = None
            if self.max_drawdown_pct is None:
                self.max_drawdown_pct = 0.0

    def add(self, t: TradeResult) -> None:
        """Count ``t``, the newest trade so far."""
        net = t.net
        with localcontext(_EXACT):
            if net > 0:
                if self.lead_win == self.trades:
                    self.lead_win += 1
                self.wins += 1
                self.gross_profit += net
                self.win_run += 1
                self.loss_run = 0
                if self.win_run > self.longest_win:
                    self.longest_win = self.win_run
            elif net < 0:
                if self.lead_loss == self.trades:
                    self.lead_loss += 1
                self.losses += 1
                self.gross_loss += net
                self.loss_run += 1
                self.win_run = 0
                if self.loss_run > self.longest_loss:
                    self.longest_loss = self.loss_run
            else:
                self.win_run = self.loss_run = 0
            self.trades += 1
            self.net_squares += net * net
            if t.risk:
                r = _WIDE.divide(net, t.risk)
                self.with_risk += 1
                self.r_sum += r
                self.r_squares += _WIDE.multiply(r, r)
            self.step_equity(net)
            day = t.trading_day
            daily = self.daily
            daily[day] = daily[day] + net if day in daily else net
            mae, mfe = t.mae, t.mfe
            if mae is not None and mfe is not None:
                self.excursions += 1
                self.mae_sum += mae
                self.mfe_sum += mfe
                self.etd_sum += mfe - t.gross
                span = mae + mfe
                if span > 0:
                    self.ranged += 1
                    self.entry_sum += _WIDE.divide(mfe, span)
                    self.exit_sum += _WIDE.divide(t.gross + mae, span)
                    self.total_sum += _WIDE.divide(t.gross, span)
        exit_time = t.exit_time
        if self.first_exit is None or exit_time < self.first_exit:
            self.first_exit = exit_time
        if self.last_exit is None or exit_time > self.last_exit:
            self.last_exit = exit_time

    def step_equity(self, net: Decimal) -> Decimal:
        """Move the equity curve by ``net``: the drawdown (fall from the peak) after it."""
        equity = self.equity = _EXACT.add(self.equity, net)
        segments = self.segments
        if equity > self.peak:
            self.peak = equity
            if segments is not None:
                segments.append((equity, equity))
        else:
            if equity < self.trough:
                self.trough = equity
            if segments is not None and equity < segments[-1][1]:
                segments[-1] = (segments[-1][0], equity)
        fall = _EXACT.subtract(self.peak, equity)
        if fall > self.max_drawdown:
            self.max_drawdown = fall
        capital = self.capital
        if capital is not None and self.max_drawdown_pct is not None and capital + self.peak > 0:
            pct = float(_WIDE.divide(fall, _EXACT.add(capital, self.peak)))
            self.max_drawdown_pct = max(self.max_drawdown_pct, pct)
        return fall

    def extend(self, later: Tally) -> None:
        """Count ``later``'s trades after this tally's (see the class docstring)."""
        if later.segments is None:
            raise TallyError()
        if not later.trades:
            return
        self._extend_segments(later.segments)
        with localcontext(_EXACT):
            equity = self.equity
            self.max_drawdown = max(
                self.max_drawdown, later.max_drawdown, self.peak - equity - later.trough
            )
            self.trough = min(self.trough, equity + later.trough)
            self.peak = max(self.peak, equity + later.peak)
            self.equity = equity + later.equity
            self.longest_win = max(
                self.longest_win, later.longest_win, self.win_run + later.lead_win
            )
            self.longest_loss = max(
                self.longest_loss, later.longest_loss, self.loss_run + later.lead_loss
            )
            if self.lead_win == self.trades:
                self.lead_win += later.lead_win
            if self.lead_loss == self.trades:
                self.lead_loss += later.lead_loss
            self.win_run = later.win_run + (self.win_run if later.win_run == later.trades else 0)
            self.loss_run = later.loss_run + (
                self.loss_run if later.loss_run == later.trades else 0
            )
            self.trades += later.trades
            self.wins += later.wins
            self.losses += later.losses
            self.gross_profit += later.gross_profit
            self.gross_loss += later.gross_loss
            self.net_squares += later.net_squares
            self.with_risk += later.with_risk
            self.r_sum += later.r_sum
            self.r_squares += later.r_squares
            daily = self.daily
            for day, net in later.daily.items():
                daily[day] = daily[day] + net if day in daily else net
            self.excursions += later.excursions
            self.mae_sum += later.mae_sum
            self.mfe_sum += later.mfe_sum
            self.etd_sum += later.etd_sum
            self.ranged += later.ranged
            self.entry_sum += later.entry_sum
            self.exit_sum += later.exit_sum
            self.total_sum += later.total_sum
        if self.first_exit is None or (later.first_exit and later.first_exit < self.first_exit):
            self.first_exit = later.first_exit
        if self.last_exit is None or (later.last_exit and later.last_exit > self.last_exit):
            self.last_exit = later.last_exit

    def _extend_segments(self, later: list[tuple[Decimal, Decimal]]) -> None:
        """Continue the equity curve by ``later``'s segments (before the peak and equity
        move): into this tally's segments, or into its drawdown share of the capital."""
        start, peak = self.equity, self.peak
        with localcontext(_EXACT):
            capital, segments = self.capital, self.segments
            if capital is not None and self.max_drawdown_pct is not None:
                pct = self.max_drawdown_pct
                for high, low in later:
                    peak = max(peak, start + high)
                    if capital + peak > 0:
                        fall = peak - (start + low)
                        pct = max(pct, float(_WIDE.divide(fall, capital + peak)))
                self.max_drawdown_pct = pct
            elif segments is not None:
                for high, low in later:
                    if start + high > segments[-1][0]:
                        segments.append((start + high, start + low))
                    elif start + low < segments[-1][1]:
                        segments[-1] = (segments[-1][0], start + low)

    def drawdown_pct(self, start: Decimal) -> float | None:
        """``max_drawdown_pct`` of these trades on a starting equity of ``start`` (None when
        the tally keeps no segments)."""
        if self.segments is None:
            return None
        pct = 0.0
        with localcontext(_EXACT):
            for high, low in self.segments:
                if start + high > 0:
                    pct = max(pct, float(_WIDE.divide(high - low, start + high)))
        return pct

    def copy(self) -> Tally:
        twin = copy.copy(self)
        twin.daily = dict(self.daily)
        if self.segments is not None:
            twin.segments = list(self.segments)
        return twin

    def performance(self, start: Decimal | None = None) -> Performance:
        """The figures of the trades added so far; ``start``, the equity before them, gives
        the drawdown as a share of equity of a tally without a capital."""
        n = self.trades
        decided = self.wins + self.losses
        net_profit = self.gross_profit + self.gross_loss
        avg_win = self.gross_profit / self.wins if self.wins else None
        avg_loss = self.gross_loss / self.losses if self.losses else None
        daily = _every_weekday(self.daily)
        if n and self.with_risk == n:
            basis, quality = SqnBasis.R_MULTIPLE, _quality(n, self.r_sum, self.r_squares)
            avg_r: float | None = float(self.r_sum / n)
        else:
            basis, quality = SqnBasis.NET_PNL, _quality(n, net_profit, self.net_squares)
            avg_r = None
        ranged = self.ranged
        return Performance(
            definitions_version=DEFINITIONS_VERSION,
            trades=n,
            wins=self.wins,
            losses=self.losses,
            breakevens=n - decided,
            win_rate=self.wins / decided if decided else None,
            nt_percent_profitable=self.wins / n if n else None,
            gross_profit=self.gross_profit,
            gross_loss=self.gross_loss,
            net_profit=net_profit,
            avg_win=avg_win,
            avg_loss=avg_loss,
            payoff_ratio=_ratio(avg_win, -avg_loss) if avg_win and avg_loss else None,
            profit_factor=_ratio(self.gross_profit, -self.gross_loss),
            expectancy=net_profit / n if n else None,
            max_drawdown=self.max_drawdown,
            max_drawdown_pct=self.max_drawdown_pct if start is None else self.drawdown_pct(start),
            current_drawdown=self.peak - self.equity,
            recovery_factor=_ratio(net_profit, self.max_drawdown),
            trading_days=len(daily),
            sharpe=sharpe(list(daily.values())),
            sortino=sortino(list(daily.values())),
            nt_sharpe_monthly=nt_sharpe_monthly(daily),
            sqn=None if quality is None else math.sqrt(min(n, SQN_TRADE_CAP)) * quality,
            sqn_basis=basis,
            avg_r=avg_r,
            longest_win_streak=self.longest_win,
            longest_loss_streak=self.longest_loss,
            current_win_streak=self.win_run,
            current_loss_streak=self.loss_run,
            avg_mae=self.mae_sum / self.excursions if self.excursions else None,
            avg_mfe=self.mfe_sum / self.excursions if self.excursions else None,
            avg_etd=self.etd_sum / self.excursions if self.excursions else None,
            entry_efficiency=float(self.entry_sum / ranged) if ranged else None,
            exit_efficiency=float(self.exit_sum / ranged) if ranged else None,
            total_efficiency=float(self.total_sum / ranged) if ranged else None,
            first_exit=self.first_exit,
            last_exit=self.last_exit,
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
    tally = Tally(capital=capital)
    with localcontext(_WIDE):
        curve = tuple(tally.step_equity(net) for net in nets)
    return Drawdowns(
        max=tally.max_drawdown,
        max_pct=tally.max_drawdown_pct,
        current=tally.peak - tally.equity,
        curve=curve,
    )


def daily_pnl(trades: Iterable[TradeResult]) -> dict[date, Decimal]:
    """Net profit per trading day, every weekday from the first to the last (0 when idle)."""
    totals: dict[date, Decimal] = defaultdict(lambda: _ZERO)
    for t in trades:
        totals[t.trading_day] += t.net
    return _every_weekday(totals)


def _every_weekday(totals: dict[date, Decimal]) -> dict[date, Decimal]:
    """``totals`` with 0 for every weekday missing between its first and last day, in order."""
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
        raise WindowSizeError(count)
    return summarize(trades[-count:], capital=capital)


def group(
    trades: Iterable[TradeResult], key: Callable[[TradeResult], K]
) -> dict[K, list[TradeResult]]:
    """Trades by scope (account, strategy, variant, instrument, regime), order kept."""
    scopes: dict[K, list[TradeResult]] = defaultdict(list)
    for t in trades:
        scopes[key(t)].append(t)
    return dict(scopes)


def _quality(n: int, total: Decimal, squares: Decimal) -> float | None:
    """Mean / sample standard deviation of ``n`` values from their sum and sum of squares;
    None for fewer than two values or no spread."""
    if n < 2:
        return None
    with localcontext(_WIDE):
        variance = (squares - total * total / n) / (n - 1)
        if variance <= 0:
            return None
        return float(total / n / variance.sqrt())


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
