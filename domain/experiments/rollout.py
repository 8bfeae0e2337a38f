"""The rollout report: the roadmap's success metrics for treatment against control, each with an
interval. Pure.

- win rate: wins / decided trades; Wald interval (``two_proportion_test``);
- Sharpe per trade: mean / sample sd of net PnL per trade (not annualized); percentile
  bootstrap;
- max drawdown: the expected largest fall of cumulative net PnL over n trades, n the smaller
  arm's count (drawdowns grow with the count, so the arms are compared at one count), a
  positive amount, lower is better; bootstrap of n-trade sequences;
- Brier score: mean (confidence − won)² over the trades whose signal gave a confidence, lower is
  better; percentile bootstrap.

Calibration: trades by their signal's confidence in five bins of 0.2, per arm: mean confidence
against the share won. The bootstraps are seeded, so a report is the same each time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.errors import StatisticsError
from domain.experiments import bootstrap
from domain.experiments.stats import two_proportion_test
from schemas.events import ExperimentArm

SEED = 20261206
BINS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutTrade:
    arm: ExperimentArm
    exit_time: datetime
    net_pnl: Decimal
    confidence: float | None = None
    """The signal's own confidence in [0, 1], if it gave one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    name: str
    control: float | None
    treatment: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    better: str
    """``higher`` or ``lower``."""
    note: str = ""
    """Why there is no difference yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationBin:
    arm: ExperimentArm
    low: float
    high: float
    trades: int
    mean_confidence: float
    win_rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout:
    metrics: tuple[Metric, ...]
    calibration: tuple[CalibrationBin, ...]


def rollout(trades: Sequence[RolloutTrade], *, confidence: float = 0.95) -> Rollout:
    ordered = sorted(trades, key=lambda t: t.exit_time)
    arms = {
        arm: [float(t.net_pnl) for t in ordered if t.arm is arm]
        for arm in (ExperimentArm.CONTROL, ExperimentArm.TREATMENT)
    }
    xs, ys = arms[ExperimentArm.CONTROL], arms[ExperimentArm.TREATMENT]
    scored = {
        arm: [_squared_error(t) for t in ordered if t.arm is arm and t.confidence is not None]
        for arm in arms
    }
    n = min(len(xs), len(ys))
    return Rollout(
        metrics=(
            _win_rate(xs, ys, confidence),
            _compared("Sharpe per trade", xs, ys, bootstrap.sharpe, "higher", confidence),
            _compared("max drawdown", xs, ys, bootstrap.max_drawdown, "lower", confidence, size=n),
            _compared(
                "Brier score",
                scored[ExperimentArm.CONTROL],
                scored[ExperimentArm.TREATMENT],
                bootstrap.mean,
                "lower",
                confidence,
            ),  # fmt: skip
        ),
        calibration=calibration(ordered),
    )


def sharpe(nets: Sequence[float]) -> float:
    """Mean / sample standard deviation (0 when every value is alike)."""
    return bootstrap.of(bootstrap.sharpe, nets)


def max_drawdown(nets: Sequence[float]) -> float:
    """The largest fall of the cumulative sum from its running peak (the peak starts at 0)."""
    return bootstrap.of(bootstrap.max_drawdown, nets)


def calibration(trades: Sequence[RolloutTrade]) -> tuple[CalibrationBin, ...]:
    bins = []
    for arm in (ExperimentArm.CONTROL, ExperimentArm.TREATMENT):
        for b in range(BINS):
            low, high = b / BINS, (b + 1) / BINS
            inside = [
                t
                for t in trades
                if t.arm is arm
                and t.confidence is not None
                and (low <= t.confidence < high or (b == BINS - 1 and t.confidence == 1.0))
            ]
            if inside:
                bins.append(
                    CalibrationBin(
                        arm=arm,
                        low=low,
                        high=high,
                        trades=len(inside),
                        mean_confidence=_mean([t.confidence or 0.0 for t in inside]),
                        win_rate=sum(1 for t in inside if t.net_pnl > 0) / len(inside),
                    )  # fmt: skip
                )
    return tuple(bins)


def _squared_error(trade: RolloutTrade) -> float:
    assert trade.confidence is not None
    return (trade.confidence - (1.0 if trade.net_pnl > 0 else 0.0)) ** 2


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


def _win_rate(xs: Sequence[float], ys: Sequence[float], confidence: float) -> Metric:
    def rate(nets: Sequence[float]) -> float | None:
        decided = [x for x in nets if x != 0]
        return sum(1 for x in decided if x > 0) / len(decided) if decided else None

    try:
        test = two_proportion_test(
            wins_control=_wins(xs), losses_control=_losses(xs),
            wins_treatment=_wins(ys), losses_treatment=_losses(ys),
            confidence=confidence,
        )  # fmt: skip
    except StatisticsError as e:
        return Metric(name="win rate", control=rate(xs), treatment=rate(ys), difference=None,
                      ci_low=None, ci_high=None, better="higher", note=e.reason)  # fmt: skip
    return Metric(name="win rate", control=test.rate_control, treatment=test.rate_treatment,
                  difference=test.difference, ci_low=test.ci_low, ci_high=test.ci_high,
                  better="higher")  # fmt: skip


def _wins(nets: Sequence[float]) -> int:
    return sum(1 for x in nets if x > 0)


def _losses(nets: Sequence[float]) -> int:
    return sum(1 for x in nets if x < 0)


def _compared(
    name: str,
    xs: Sequence[float],
    ys: Sequence[float],
    statistic: bootstrap.RowStatistic,
    better: str,
    confidence: float,
    size: int | None = None,
) -> Metric:
    def own(values: Sequence[float]) -> float | None:
        return bootstrap.of(statistic, values) if len(values) >= 2 else None

    try:
        interval = bootstrap.bootstrap_difference(
            xs, ys, statistic, seed=SEED, confidence=confidence, size=size
        )
    except StatisticsError as e:
        return Metric(name=name, control=own(xs), treatment=own(ys), difference=None,
                      ci_low=None, ci_high=None, better=better, note=e.reason)  # fmt: skip
    return Metric(name=name, control=own(xs), treatment=own(ys), difference=interval.difference,
                  ci_low=interval.ci_low, ci_high=interval.ci_high, better=better)  # fmt: skip
