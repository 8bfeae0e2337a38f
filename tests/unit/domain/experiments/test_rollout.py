"""The rollout report, pure: each arm's Sharpe, drawdown, Brier score and calibration against
numpy computations, the intervals (seeded, around the estimate, away from 0 for a large effect),
and what is left out with too few trades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.experiments import bootstrap
from domain.experiments.bootstrap import bootstrap_difference
from domain.experiments.rollout import RolloutTrade, max_drawdown, rollout
from schemas.events import ExperimentArm

T0 = datetime(2026, 9, 22, 14, tzinfo=UTC)
CONTROL, TREATMENT = ExperimentArm.CONTROL, ExperimentArm.TREATMENT


def made(seed: int, n_control: int, n_treatment: int, lift: float = 0.0) -> list[RolloutTrade]:
    rng = np.random.default_rng(seed)
    trades = []
    for i, arm in enumerate([CONTROL] * n_control + [TREATMENT] * n_treatment):
        net = round(float(rng.normal(5 + (lift if arm is TREATMENT else 0), 40)), 2)
        confidence = None if i % 10 == 0 else round(float(rng.uniform(0, 1)), 3)
        at = T0 + timedelta(minutes=(i * 37) % 1000, seconds=i)
        trades.append(
            RolloutTrade(arm=arm, exit_time=at, net_pnl=Decimal(str(net)), confidence=confidence)
        )
    return trades


def in_order(trades: list[RolloutTrade], arm: ExperimentArm) -> list[RolloutTrade]:
    return sorted((t for t in trades if t.arm is arm), key=lambda t: t.exit_time)


def test_each_arms_figures_are_numpys() -> None:
    trades = made(1, 120, 80)
    got = {m.name: m for m in rollout(trades).metrics}
    for arm, side in ((CONTROL, "control"), (TREATMENT, "treatment")):
        mine = in_order(trades, arm)
        nets = np.array([float(t.net_pnl) for t in mine])
        assert getattr(got["Sharpe per trade"], side) == pytest.approx(
            nets.mean() / nets.std(ddof=1), rel=1e-12
        )
        equity = np.concatenate([[0.0], np.cumsum(nets)])
        drawdown = float(np.max(np.maximum.accumulate(equity) - equity))
        assert max_drawdown(list(nets)) == pytest.approx(drawdown, rel=1e-12)
        scored = [(t.confidence, float(t.net_pnl) > 0) for t in mine if t.confidence is not None]
        brier = np.mean([(c - won) ** 2 for c, won in scored])
        assert getattr(got["Brier score"], side) == pytest.approx(brier, rel=1e-12)
        decided = nets[nets != 0]
        assert getattr(got["win rate"], side) == pytest.approx(np.mean(decided > 0))
    for metric in got.values():
        assert metric.ci_low is not None and metric.ci_high is not None
        assert metric.difference is not None
        assert metric.ci_low <= metric.difference <= metric.ci_high, metric.name
    # the drawdowns are compared at the smaller arm's count: its estimate is the resamples' mean
    assert got["max drawdown"].difference != pytest.approx(
        got["max drawdown"].treatment - got["max drawdown"].control  # type: ignore[operator]
    )


def test_calibration_bins_hold_their_trades() -> None:
    trades = made(2, 200, 200)
    bins = rollout(trades).calibration
    for arm in (CONTROL, TREATMENT):
        mine = [b for b in bins if b.arm is arm]
        scored = [t for t in trades if t.arm is arm and t.confidence is not None]
        assert sum(b.trades for b in mine) == len(scored)
        for b in mine:
            inside = [  # the last bin holds 1.0 too
                t for t in scored
                if b.low <= (t.confidence or 0) < b.high or (b.high == 1.0 and t.confidence == 1.0)
            ]  # fmt: skip
            assert b.trades == len(inside)
            assert b.mean_confidence == pytest.approx(np.mean([t.confidence for t in inside]))
            assert b.win_rate == pytest.approx(np.mean([t.net_pnl > 0 for t in inside]))


def test_the_intervals_are_seeded_and_find_a_large_effect() -> None:
    trades = made(3, 300, 300, lift=25)
    first, again = rollout(trades), rollout(list(reversed(trades)))
    assert first == again
    sharpe = {m.name: m for m in first.metrics}["Sharpe per trade"]
    assert sharpe.ci_low is not None and sharpe.ci_low > 0  # the treatment is better


def test_with_too_few_trades_the_metrics_say_why() -> None:
    trades = made(4, 1, 0)
    for m in rollout(trades).metrics:
        assert m.difference is None and m.ci_low is None
        assert m.note, m.name


def test_a_bootstrap_at_one_size_compares_the_statistic_at_that_size() -> None:
    xs, ys = [1.0, -2.0, 3.0, -1.0] * 10, [2.0, -1.0] * 5
    at_10 = bootstrap_difference(xs, ys, bootstrap.max_drawdown, seed=7, size=10)
    assert bootstrap_difference(xs, ys, bootstrap.max_drawdown, seed=7, size=10) == at_10
    assert at_10.ci_low <= at_10.difference <= at_10.ci_high
    # the mean statistic at each arm's own count is the plain difference of means
    own = bootstrap_difference(xs, ys, bootstrap.mean, seed=7)
    assert own.difference == pytest.approx(sum(ys) / len(ys) - sum(xs) / len(xs))


def _drawdown_by_hand(nets: list[float]) -> float:
    peak = total = deepest = 0.0
    for x in nets:
        total += x
        peak = max(peak, total)
        deepest = max(deepest, peak - total)
    return deepest


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=40), min_size=1, max_size=6)
       .filter(lambda rows: len({len(r) for r in rows}) == 1))  # fmt: skip
def test_the_row_statistics_are_each_rows_own(rows: list[list[float]]) -> None:
    array = np.array(rows)
    for row, drawdown, ratio in zip(
        rows, bootstrap.max_drawdown(array), bootstrap.sharpe(array), strict=True
    ):
        assert drawdown == pytest.approx(_drawdown_by_hand(row), rel=1e-9, abs=1e-6)
        spread = float(np.std(row, ddof=1))
        expected = float(np.mean(row)) / spread if spread > 0 else 0.0
        assert ratio == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_resampling_in_blocks_keeps_the_interval_valid_and_reproducible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xs, ys = [1.0, -2.0, 3.0, -1.0, 0.5] * 20, [2.0, -1.0, 0.25] * 30
    whole = bootstrap_difference(xs, ys, bootstrap.sharpe, seed=3, resamples=500)
    monkeypatch.setattr(bootstrap, "CELLS_PER_BLOCK", 1_000)  # 10 resamples a block
    blocks = bootstrap_difference(xs, ys, bootstrap.sharpe, seed=3, resamples=500)
    assert blocks == bootstrap_difference(xs, ys, bootstrap.sharpe, seed=3, resamples=500)
    assert blocks.difference == whole.difference
    assert blocks.ci_low < blocks.difference < blocks.ci_high
    assert abs(blocks.ci_low - whole.ci_low) < 0.1 and abs(blocks.ci_high - whole.ci_high) < 0.1
