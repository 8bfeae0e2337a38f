"""Baselines: each scope's figures are the performance figures of its trades, keyed as the
performance stage keys them; the per-trade ratios and the prediction accuracy agree with numpy
and scikit-learn; the period's bounds are the trading days'; the digest ignores order."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss

from domain.baselines import (
    Filter,
    PeriodError,
    Traded,
    compare,
    digest,
    figures,
    freeze,
    per_trade_ratios,
    period_bounds,
    prediction_accuracy,
)
from domain.experiments import bootstrap
from domain.experiments.bootstrap import of
from domain.performance.figures import TradeResult, summarize, trading_day
from domain.performance.snapshots import scopes_of
from schemas.events import (
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    MetricScope,
    TradeClosed,
    TradeId,
)

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ENVELOPE = Envelope(event_id=EventId("b-1"), ts_event=T0, ts_ingested=T0, producer="test")


def traded(n: int, net: str, *, account: str = "Sim101", strategy: str | None = "ORB",
           variant: str | None = None, confidence: float | None = None) -> Traded:  # fmt: skip
    at = T0 + timedelta(minutes=n)
    return Traded(
        result=TradeResult(exit_time=at, net=Decimal(net), gross=Decimal(net) + 2,
                           trade_id=f"t-{n}", currency="USD"),
        revision=0, account=account, strategy=strategy, variant=variant, confidence=confidence,
    )  # fmt: skip


SAMPLE = [
    traded(1, "120", confidence=0.7),
    traded(2, "-40", confidence=0.6),
    traded(3, "75.5", variant="v2", confidence=0.3),
    traded(4, "-10", strategy=None),
    traded(5, "0", account="Sim102", strategy="MR"),
    traded(6, "-60", variant="v2"),
]


def test_each_scope_is_the_performance_figures_of_its_trades_keyed_as_the_stage_keys_them() -> None:
    found = {(f.scope, f.scope_key): f for f in figures(SAMPLE)}
    for t in SAMPLE:
        closed = TradeClosed(
            envelope=ENVELOPE, trade_id=TradeId(t.result.trade_id), account=t.account,
            instrument="NQ 06-26", strategy=t.strategy, variant=t.variant,
            direction=Direction.LONG, quantity=1, entry_time=t.result.exit_time,
            exit_time=t.result.exit_time, entry_price=Decimal(1), exit_price=Decimal(1),
            point_value=Decimal(20), currency="USD", gross_pnl=t.result.gross,
            commission=Decimal(0), net_pnl=t.result.net, execution_ids=(ExecutionId("x"),),
        )  # fmt: skip
        expected = {
            (s.kind, s.key) for s in scopes_of(closed) if s.kind is not MetricScope.INSTRUMENT
        }
        assert expected <= set(found)
    orb = [t for t in SAMPLE if t.account == "Sim101" and t.strategy == "ORB"]
    p = summarize([t.result for t in orb])
    f = found[(MetricScope.STRATEGY, "Sim101|ORB")]
    assert (f.trades, f.wins, f.losses, f.net_profit, f.max_drawdown, f.win_rate) == (
        p.trades, p.wins, p.losses, p.net_profit, p.max_drawdown, p.win_rate)  # fmt: skip
    assert found[(MetricScope.ACCOUNT, "Sim101")].trades == 5
    assert found[(MetricScope.VARIANT, "Sim101|ORB|v2")].net_profit == Decimal("15.5")
    assert [f.scope for f in figures(SAMPLE)][:2] == [MetricScope.ACCOUNT, MetricScope.ACCOUNT]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-500, 500), min_size=2, max_size=40))
def test_the_per_trade_ratios_agree_with_numpy(nets: list[int]) -> None:
    sharpe, sortino = per_trade_ratios([Decimal(n) for n in nets])
    values = np.array(nets, dtype=float)
    spread = values.std(ddof=1)
    downside = np.sqrt(np.mean(np.minimum(values, 0.0) ** 2))
    assert sharpe == (pytest.approx(values.mean() / spread) if spread else None)
    assert sortino == (pytest.approx(values.mean() / downside) if downside else None)
    # the bootstrap's row statistic is the same ratio (0 where nothing was lost)
    assert of(bootstrap.sortino, nets) == pytest.approx(sortino if sortino is not None else 0.0)


def test_prediction_accuracy_agrees_with_scikit_learn() -> None:
    count, hit_rate, brier = prediction_accuracy(SAMPLE)
    given_ = [t for t in SAMPLE if t.confidence is not None]
    won = [1 if t.result.net > 0 else 0 for t in given_]
    confidence = [t.confidence for t in given_]
    assert count == 3
    assert brier == pytest.approx(brier_score_loss(won, confidence))
    assert hit_rate == pytest.approx(1 / 3)  # 0.7 won: a hit; 0.6 lost and 0.3 won: misses
    assert prediction_accuracy([traded(1, "5")]) == (0, None, None)


def test_a_period_is_its_trading_days_with_weekend_ends_moved_in() -> None:
    start, end = period_bounds(date(2026, 3, 7), date(2026, 3, 15))  # Saturday to Sunday
    assert (trading_day(start), trading_day(end - timedelta(microseconds=1))) == (
        date(2026, 3, 9), date(2026, 3, 13))  # fmt: skip
    assert trading_day(end) == date(2026, 3, 16)
    with pytest.raises(PeriodError):
        period_bounds(date(2026, 3, 7), date(2026, 3, 8))


def test_freezing_keeps_the_scope_and_digests_ids_and_revisions_in_any_order() -> None:
    baseline = freeze("pre-ml", date(2026, 3, 9), date(2026, 3, 13), SAMPLE,
                      scope=Filter(account="Sim101", strategy="ORB"), envelope=ENVELOPE,
                      actor="trader", note="before the model")  # fmt: skip
    assert {f.scope_key for f in baseline.figures} == {"Sim101", "Sim101|ORB", "Sim101|ORB|v2"}
    assert baseline.figures[0].trades == 4
    assert (baseline.from_day, baseline.to_day, baseline.strategy) == (
        "2026-03-09", "2026-03-13", "ORB")  # fmt: skip
    assert digest(SAMPLE) == digest(list(reversed(SAMPLE)))
    assert digest(SAMPLE) != digest([replace(SAMPLE[0], revision=1), *SAMPLE[1:]])


def _period(nets: list[int], *, start: int = 0, confidence: float | None = None) -> list[Traded]:
    return [traded(start + i, str(n), confidence=confidence) for i, n in enumerate(nets)]


def test_a_comparison_holds_each_sides_own_figures_and_the_targets() -> None:
    before = _period([100, -80, 50, -60, 20, -40, 90, -70], confidence=0.6)
    after = _period([120, -50, 80, -30, 60, 70, -20, 90, 40], start=100, confidence=0.6)
    found = {c.metric: c for c in compare(before, after, resamples=500)}
    p_before, p_after = summarize([t.result for t in before]), summarize([t.result for t in after])
    assert found["win_rate"].baseline == pytest.approx(p_before.win_rate)
    assert found["win_rate"].current == pytest.approx(p_after.win_rate)
    assert found["sharpe_per_trade"].current == pytest.approx(
        per_trade_ratios([t.result.net for t in after])[0])  # fmt: skip
    assert found["max_drawdown"].baseline == pytest.approx(float(p_before.max_drawdown))
    assert found["hit_rate"].current == pytest.approx(prediction_accuracy(after)[1])
    assert found["sortino_per_trade"].current == pytest.approx(
        per_trade_ratios([t.result.net for t in after])[1])  # fmt: skip
    assert found["brier"].baseline == pytest.approx(prediction_accuracy(before)[2])
    for metric in ("sortino_per_trade", "brier"):  # no roadmap target: intervals, no verdict
        assert found[metric].target is None and found[metric].goal is None
        assert found[metric].met is None and found[metric].ci_low is not None
    for c in found.values():
        assert c.ci_low is not None and c.ci_high is not None and c.ci_low <= c.ci_high
        assert (c.baseline_trades, c.current_trades) == (8, 9)
    assert found["win_rate"].met is True  # eight and nine trades: the interval holds 0
    assert found["win_rate"].ci_low < 0 < found["win_rate"].ci_high  # type: ignore[operator]
    assert found["max_drawdown"].met is True and found["max_drawdown"].target == -0.10
    assert found["win_rate"].goal == pytest.approx(p_before.win_rate * 1.05)  # type: ignore[operator]


def test_the_same_trades_again_meet_no_target_that_asks_for_better() -> None:
    before = _period([100, -80, 50, -60, 20], confidence=0.7)
    same = {c.metric: c for c in compare(before, before, resamples=300)}
    assert same["win_rate"].difference == 0 and same["win_rate"].met is False
    assert same["max_drawdown"].met is False  # not 10 % lower
    assert compare(before, before, resamples=300) == compare(before, before, resamples=300)


def test_a_side_with_too_few_trades_tells_nothing() -> None:
    found = {c.metric: c for c in compare(_period([10]), _period([5, -3, 8]), resamples=100)}
    assert found["win_rate"].baseline is None and found["win_rate"].met is None
    assert found["win_rate"].ci_low is None
    assert found["hit_rate"].current is None  # no confidence given


def test_a_planted_improvement_over_many_trades_clears_zero() -> None:
    before = _period([60 if i % 5 < 2 else -40 for i in range(200)])  # 40 % won
    after = _period([60 if i % 10 < 7 else -40 for i in range(200)], start=300)  # 70 % won
    found = {c.metric: c for c in compare(before, after, resamples=1000)}
    assert found["win_rate"].ci_low > 0  # type: ignore[operator]
    assert found["sharpe_per_trade"].ci_low > 0 and found["sharpe_per_trade"].met  # type: ignore[operator]


def test_a_longer_period_of_the_same_trading_is_not_a_deeper_drawdown() -> None:
    draw = random.Random(7)
    before = _period([draw.choice((50, -50)) for _ in range(40)])
    after = _period([draw.choice((50, -50)) for _ in range(400)], start=100)
    drawdown = next(c for c in compare(before, after, resamples=1000)
                    if c.metric == "max_drawdown")  # fmt: skip
    assert drawdown.current > 2 * drawdown.baseline  # type: ignore[operator]
    assert drawdown.ci_low < 0 < drawdown.ci_high  # type: ignore[operator]
    assert drawdown.met is False
