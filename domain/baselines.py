"""Baselines: the figures of a period's trades, per account, strategy and variant, frozen under a
name (``BaselineFrozen``), what later periods are compared with. Pure.

The period is a range of trading days, both ends included (the CME session a trade's exit falls
in, as the performance figures count them: ``domain.performance.figures.trading_day``). Each
scope's figures are ``domain.performance.figures.summarize`` of its trades, the definitions the
performance projection uses, plus what the roadmap's targets compare and the performance figures
do not have: the Sharpe and Sortino ratios per trade, and the prediction accuracy of the signals'
confidence (hit rate and Brier score). Scopes are keyed as the performance figures key them
(``domain.performance.snapshots.scopes_of``).
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.experiments.bootstrap import (
    RowStatistic,
    bootstrap_difference,
    max_drawdown,
    mean,
    of,
    sharpe,
    sortino,
)
from domain.performance.figures import (
    DEFINITIONS_VERSION,
    TradeResult,
    session_bounds,
    summarize,
)
from domain.performance.snapshots import maybe_money, money
from schemas.events import BaselineFigures, BaselineFrozen, Envelope, MetricScope


class PeriodError(ValueError):
    """A period that holds no trading day."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Traded:
    """A trade as a baseline counts it: its result, its scopes, its signal's confidence."""

    result: TradeResult
    revision: int
    account: str
    strategy: str | None = None
    variant: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """The scope a baseline is limited to (``--scope``); None: every one."""

    account: str | None = None
    strategy: str | None = None
    variant: str | None = None

    def keeps(self, trade: Traded) -> bool:
        return all(
            wanted is None or wanted == value
            for wanted, value in (
                (self.account, trade.account),
                (self.strategy, trade.strategy),
                (self.variant, trade.variant),
            )
        )


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants ``[start, end)`` whose trading day is in ``[first, last]``; weekend ends move
    to the weekdays within. ``PeriodError`` when none is left."""
    while first.weekday() >= 5:
        first += timedelta(days=1)
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    if first > last:
        raise PeriodError(f"no trading day from {first} to {last}")
    return session_bounds(first)[0], session_bounds(last)[1]


def figures(trades: Sequence[Traded]) -> tuple[BaselineFigures, ...]:
    """Each scope's figures, account scopes first, then strategies, then variants, by key;
    ``trades`` in exit order."""
    scoped: dict[tuple[MetricScope, str], list[Traded]] = {}
    for t in trades:
        for scope in _scopes(t):
            scoped.setdefault(scope, []).append(t)
    order = {MetricScope.ACCOUNT: 0, MetricScope.STRATEGY: 1, MetricScope.VARIANT: 2}
    return tuple(
        _figures(scope, key, scoped[(scope, key)])
        for scope, key in sorted(scoped, key=lambda k: (order[k[0]], k[1]))
    )


def freeze(
    name: str,
    first: date,
    last: date,
    trades: Sequence[Traded],
    *,
    scope: Filter,
    envelope: Envelope,
    actor: str,
    note: str | None = None,
) -> BaselineFrozen:
    """The baseline ``name`` of ``trades`` (those of the period and scope, in exit order)."""
    counted = [t for t in trades if scope.keeps(t)]
    return BaselineFrozen(
        envelope=envelope,
        name=name,
        from_day=first.isoformat(),
        to_day=last.isoformat(),
        account=scope.account,
        strategy=scope.strategy,
        variant=scope.variant,
        actor=actor,
        note=note,
        definitions_version=DEFINITIONS_VERSION,
        trades_digest=digest(counted),
        figures=figures(counted),
    )


def digest(trades: Sequence[Traded]) -> str:
    """SHA-256 of the trades' ids and revisions, sorted."""
    lines = sorted(f"{t.result.trade_id}@{t.revision}" for t in trades)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def per_trade_ratios(nets: Sequence[Decimal]) -> tuple[float | None, float | None]:
    """Sharpe and Sortino per trade: the mean net over the sample standard deviation, and over
    the downside deviation (root mean square of the losses, the rest counting as zero)."""
    if len(nets) < 2:
        return None, None
    values = [float(n) for n in nets]
    mean = statistics.fmean(values)
    spread = statistics.stdev(values)
    downside = math.sqrt(sum(min(v, 0.0) ** 2 for v in values) / len(values))
    return (mean / spread if spread else None), (mean / downside if downside else None)


def prediction_accuracy(trades: Sequence[Traded]) -> tuple[int, float | None, float | None]:
    """How many trades' signals gave a confidence, the share where a confidence of at least 0.5
    and a win agree, and the Brier score (mean squared confidence − outcome, a win 1)."""
    pairs = [(t.confidence, 1.0 if t.result.net > 0 else 0.0) for t in trades
             if t.confidence is not None]  # fmt: skip
    if not pairs:
        return 0, None, None
    hits = sum(1 for c, won in pairs if (c >= 0.5) == (won == 1.0))
    brier = statistics.fmean((c - won) ** 2 for c, won in pairs)
    return len(pairs), hits / len(pairs), brier


def _scopes(trade: Traded) -> list[tuple[MetricScope, str]]:
    scopes = [(MetricScope.ACCOUNT, trade.account)]
    if trade.strategy is not None:
        scopes.append((MetricScope.STRATEGY, f"{trade.account}|{trade.strategy}"))
    if trade.variant is not None:
        key = f"{trade.account}|{trade.strategy or ''}|{trade.variant}"
        scopes.append((MetricScope.VARIANT, key))
    return scopes


def _figures(scope: MetricScope, key: str, trades: list[Traded]) -> BaselineFigures:
    p = summarize([t.result for t in trades])
    first = trades[0]
    sharpe_trade, sortino_trade = per_trade_ratios([t.result.net for t in trades])
    predictions, hit_rate, brier = prediction_accuracy(trades)
    currencies = {t.result.currency for t in trades}
    return BaselineFigures(
        scope=scope,
        scope_key=key,
        account=first.account,
        strategy=first.strategy if scope is not MetricScope.ACCOUNT else None,
        variant=first.variant if scope is MetricScope.VARIANT else None,
        currency=currencies.pop() if len(currencies) == 1 else None,
        trades=p.trades,
        wins=p.wins,
        losses=p.losses,
        win_rate=p.win_rate,
        net_profit=money(p.net_profit),
        gross_profit=money(p.gross_profit),
        gross_loss=money(p.gross_loss),
        profit_factor=p.profit_factor,
        expectancy=maybe_money(p.expectancy),
        max_drawdown=money(p.max_drawdown),
        sharpe=p.sharpe,
        sortino=p.sortino,
        sharpe_per_trade=sharpe_trade,
        sortino_per_trade=sortino_trade,
        avg_r=p.avg_r,
        predictions=predictions,
        hit_rate=hit_rate,
        brier=brier,
        first_exit=p.first_exit,
        last_exit=p.last_exit,
    )


TARGETS: tuple[tuple[str, float], ...] = (
    ("win_rate", 0.05),
    ("sharpe_per_trade", 0.15),
    ("max_drawdown", -0.10),
    ("hit_rate", 0.10),
)
"""The roadmap's trading targets against the baseline, each a change relative to the baseline's
figure: win rate +5 %, risk-adjusted returns (the Sharpe ratio per trade) +15 %, maximum
drawdown −10 %, prediction accuracy (the hit rate) +10 %."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One figure of a scope, now against its baseline, with the bootstrap interval of the
    difference and the roadmap's target."""

    metric: str
    baseline: float | None
    current: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    target: float | None
    """The change asked for, relative to the baseline (0.05: +5 %); None for the figures the
    roadmap sets no target for (the Sortino ratio, the Brier score), shown with their
    intervals all the same."""
    goal: float | None
    """The figure that meets it: the baseline's times 1 + target."""
    met: bool | None
    """None when a side has too few trades to tell."""
    baseline_trades: int
    current_trades: int


def compare(
    baseline: Sequence[Traded],
    current: Sequence[Traded],
    *,
    seed: int = 20_240_501,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> tuple[Comparison, ...]:
    """The roadmap's figures of ``current`` against ``baseline`` (both one scope's trades, in
    exit order): win rate, Sharpe and Sortino ratios per trade, maximum drawdown, and the
    signals' prediction accuracy (hit rate, Brier score); each side's own figure, the
    difference, and its percentile bootstrap interval (``domain.experiments.bootstrap``, both
    sides resampled); the target and whether it is met where the roadmap sets one.

    A maximum drawdown grows with the number of trades, so a longer period has a deeper one for
    no fault of its own: its difference, interval and verdict are those of resamples of the same
    size on both sides (the smaller period's count), while ``baseline`` and ``current`` stay each
    period's own figure."""

    def nets(trades: Sequence[Traded]) -> list[float]:
        return [float(t.result.net) for t in trades]

    def wins(trades: Sequence[Traded]) -> list[float]:
        return [1.0 if t.result.net > 0 else 0.0 for t in trades if t.result.net != 0]

    def hits(trades: Sequence[Traded]) -> list[float]:
        return [1.0 if (t.confidence >= 0.5) == (t.result.net > 0) else 0.0
                for t in trades if t.confidence is not None]  # fmt: skip

    def briers(trades: Sequence[Traded]) -> list[float]:
        return [(t.confidence - (1.0 if t.result.net > 0 else 0.0)) ** 2
                for t in trades if t.confidence is not None]  # fmt: skip

    samples: tuple[tuple[str, Callable[[Sequence[Traded]], list[float]], RowStatistic, bool], ...]
    samples = (
        ("win_rate", wins, mean, False),
        ("sharpe_per_trade", nets, sharpe, False),
        ("sortino_per_trade", nets, sortino, False),
        ("max_drawdown", nets, max_drawdown, True),
        ("hit_rate", hits, mean, False),
        ("brier", briers, mean, False),
    )
    targets = dict(TARGETS)
    out = []
    for metric, values, statistic, same_size in samples:
        xs, ys = values(baseline), values(current)
        was, now = _statistic(statistic, xs), _statistic(statistic, ys)
        target = targets.get(metric)
        goal = None
        if was is not None and target is not None:
            goal = was * (1 + target) if was >= 0 else was * (1 - target)
        low = high = difference = met = None
        if was is not None and now is not None:
            size = min(len(xs), len(ys)) if same_size else None
            interval = bootstrap_difference(
                xs, ys, statistic, seed=seed, resamples=resamples, confidence=confidence,
                size=size,
            )  # fmt: skip
            low, high = interval.ci_low, interval.ci_high
            difference = interval.difference if same_size else now - was
            if goal is not None and target is not None:
                wanted = goal - was  # the change the target asks for
                met = difference <= wanted if target < 0 else difference >= wanted
        out.append(
            Comparison(
                metric=metric, baseline=was, current=now, difference=difference, ci_low=low,
                ci_high=high, target=target, goal=goal, met=met, baseline_trades=len(baseline),
                current_trades=len(current),
            )
        )  # fmt: skip
    return tuple(out)


def _statistic(statistic: RowStatistic, values: list[float]) -> float | None:
    return of(statistic, values) if len(values) >= 2 else None
