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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

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
