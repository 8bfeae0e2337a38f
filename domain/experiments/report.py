"""An experiment's comparison of its arms, from its trades and assignments. Pure.

Per arm: trades, wins, losses, net profit, mean net PnL per trade (the primary metric) and win
rate. Between the arms (treatment − control): Welch's t-test and a seeded bootstrap interval for
the difference in mean net PnL per trade, the two-proportion test of the win rates, Mann–Whitney
as a robust check, and the mixture SPRT's always-valid p-value, folded over the trades in exit
order, so looking every day does not inflate false positives. A statistic that the trades do not
allow yet (too few, no spread) is left out with the reason.

Regimes: the same difference within each market regime at entry (``trade_regimes``), and a
post-stratified overall difference that weights each regime by its share of the trades, so a
variant that merely traded during an easier market does not look better than it is.

Sample-ratio mismatch: the assignments are grouped by the treatment's share they were made at
(steps of the ramp; 0 % and 100 % split nothing and are left out); each group's counts are tested
against its split with a chi-square goodness of fit, and the groups together by the sum of their
chi-squares (one degree of freedom each). A p-value under 0.001 flags broken routing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from domain.errors import StatisticsError
from domain.experiments.bootstrap import BootstrapInterval
from domain.experiments.distributions import (
    check_confidence,
    chi_square_sf,
    normal_sf2,
    two_sided_z,
)
from domain.experiments.model import Experiment
from domain.experiments.stats import (
    Arm,
    MannWhitneyResult,
    ProportionResult,
    SampleRatioResult,
    SequentialState,
    WelchResult,
    bootstrap_interval,
    mann_whitney,
    mean_variance,
    sample_ratio_mismatch,
    start_sequential,
    two_proportion_test,
    welch_test,
)
from domain.experiments.stats import apply as apply_sequential
from schemas.events import ExperimentArm

SRM_THRESHOLD = 0.001
T = TypeVar("T")
_CONTROL, _TREATMENT = ExperimentArm.CONTROL, ExperimentArm.TREATMENT
BOOTSTRAP_SEED = 20260922
"""Fixed, so a report is the same every time it is printed from the same trades."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmTrade:
    arm: ExperimentArm
    exit_time: datetime
    net_pnl: Decimal
    regime: str | None = None
    """The market regime at the trade's entry (``trade_regimes``); None: not labelled."""
    trade_id: str = ""
    """Orders trades that closed at the same moment (``exit_order``)."""


STATISTICS_ARMS: Mapping[ExperimentArm, Arm] = {
    ExperimentArm.CONTROL: Arm.CONTROL,
    ExperimentArm.TREATMENT: Arm.TREATMENT,
}
"""The arms the statistics compare (a trade of an arm this version does not know is left out)."""


def exit_order(trade: ArmTrade) -> tuple[datetime, str]:
    """The order the sequential test takes trades in: by exit time, then trade id."""
    return (trade.exit_time, trade.trade_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeEffect:
    """Treatment − control in mean net PnL per trade among the trades entered in one regime."""

    regime: str
    n_control: int
    n_treatment: int
    difference: float
    variance: float
    """Of ``difference``: s²_t / n_t + s²_c / n_c."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StratifiedEffect:
    """The regimes' differences weighted by each regime's share of the compared trades: what the
    treatment would gain if both arms had traded the same mix of markets."""

    difference: float
    std_error: float
    confidence: float
    ci_low: float
    ci_high: float
    p_value: float
    regimes: tuple[str, ...]
    """The regimes compared: those with at least 2 trades in each arm and a spread."""
    trades_left_out: int
    """Trades of other regimes (or unlabelled) that the estimate cannot use."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmFigures:
    arm: ExperimentArm
    variant: str
    trades: int
    wins: int
    losses: int
    net_profit: Decimal
    mean_net_pnl: Decimal | None
    win_rate: Decimal | None
    """Wins / decided trades (a breakeven is neither)."""
    assigned: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRatio:
    by_share: Mapping[int, SampleRatioResult]
    """Treatment percent → the test of the assignments made at it."""
    chi_square: float
    df: int
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_THRESHOLD


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    experiment: Experiment
    control: ArmFigures
    treatment: ArmFigures
    welch: WelchResult | None
    bootstrap: BootstrapInterval | None
    win_rate: ProportionResult | None
    mann_whitney: MannWhitneyResult | None
    sequential: SequentialState
    sample_ratio: SampleRatio | None
    by_regime: tuple[RegimeEffect, ...]
    stratified: StratifiedEffect | None
    missing: Mapping[str, str]
    """Statistic → why it is left out."""


def report(
    experiment: Experiment,
    trades: Sequence[ArmTrade],
    assignments: Mapping[tuple[int, ExperimentArm], int],
    *,
    confidence: float = 0.95,
    effect: Decimal | None = None,
) -> Report:
    """The comparison; ``assignments`` counts signals by (treatment percent, arm); ``effect`` is
    the difference in mean net PnL per trade worth detecting (the mSPRT's mixing scale), by
    default the arms' pooled standard deviation once each has its first trades."""
    ordered = sorted(trades, key=exit_order)
    nets = {
        arm: [t.net_pnl for t in ordered if t.arm is arm]
        for arm in (ExperimentArm.CONTROL, ExperimentArm.TREATMENT)
    }
    control, treatment = nets[ExperimentArm.CONTROL], nets[ExperimentArm.TREATMENT]
    missing: dict[str, str] = {}

    def attempt(name: str, compute: Callable[[], T]) -> T | None:
        try:
            return compute()
        except StatisticsError as e:
            missing[name] = e.reason
            return None

    welch = attempt("welch", lambda: welch_test(control, treatment, confidence=confidence))
    boot = attempt(
        "bootstrap",
        lambda: bootstrap_interval(control, treatment, seed=BOOTSTRAP_SEED, confidence=confidence),
    )
    rate = attempt(
        "win rate",
        lambda: two_proportion_test(
            wins_control=_count(control, 1),
            losses_control=_count(control, -1),
            wins_treatment=_count(treatment, 1),
            losses_treatment=_count(treatment, -1),
            confidence=confidence,
        ),  # fmt: skip
    )
    robust = attempt("mann-whitney", lambda: mann_whitney(control, treatment))
    sequential = sequential_test(ordered, effect)
    by_regime = regime_effects(ordered)
    stratified = attempt("by regime", lambda: stratify(by_regime, len(ordered), confidence))
    ratio = _sample_ratio(assignments)
    if ratio is None:
        missing["sample ratio"] = "no assignments made at a split between 0 and 100 %"
    spec = experiment.spec
    return Report(
        experiment=experiment,
        control=_figures(ExperimentArm.CONTROL, spec.control_variant, control, assignments),
        treatment=_figures(ExperimentArm.TREATMENT, spec.treatment_variant, treatment, assignments),
        welch=welch,
        bootstrap=boot,
        win_rate=rate,
        mann_whitney=robust,
        sequential=sequential,
        sample_ratio=ratio,
        by_regime=by_regime,
        stratified=stratified,
        missing=missing,
    )


def regime_effects(trades: Sequence[ArmTrade]) -> tuple[RegimeEffect, ...]:
    """Each labelled regime with at least 2 trades per arm and a spread, by name."""
    effects = []
    for regime in sorted({t.regime for t in trades if t.regime is not None}):
        xs = [float(t.net_pnl) for t in trades if t.regime == regime and t.arm is _CONTROL]
        ys = [float(t.net_pnl) for t in trades if t.regime == regime and t.arm is _TREATMENT]
        if len(xs) < 2 or len(ys) < 2:
            continue
        (mx, vx), (my, vy) = mean_variance(xs), mean_variance(ys)
        variance = vx / len(xs) + vy / len(ys)
        if variance <= 0:
            continue
        effects.append(
            RegimeEffect(
                regime=regime,
                n_control=len(xs),
                n_treatment=len(ys),
                difference=my - mx,
                variance=variance,
            )  # fmt: skip
        )
    return tuple(effects)


def stratify(
    effects: Sequence[RegimeEffect], trades: int, confidence: float = 0.95
) -> StratifiedEffect:
    """Post-stratified difference: Σ w_k Δ_k with w_k = n_k / Σ n, SE = √(Σ w_k² V_k), normal
    interval and two-sided p-value."""
    check_confidence(confidence)
    if not effects:
        raise StatisticsError(
            "by regime", "needs a regime with at least 2 trades per arm and a spread"
        )
    sizes = [e.n_control + e.n_treatment for e in effects]
    total = sum(sizes)
    weights = [n / total for n in sizes]
    difference = math.fsum(w * e.difference for w, e in zip(weights, effects, strict=True))
    se = math.sqrt(math.fsum(w * w * e.variance for w, e in zip(weights, effects, strict=True)))
    half = two_sided_z(confidence) * se
    return StratifiedEffect(
        difference=difference,
        std_error=se,
        confidence=confidence,
        ci_low=difference - half,
        ci_high=difference + half,
        p_value=normal_sf2(difference / se),
        regimes=tuple(e.regime for e in effects),
        trades_left_out=trades - total,
    )


def _count(nets: Sequence[Decimal], sign: int) -> int:
    return sum(1 for n in nets if (n > 0 if sign > 0 else n < 0))


def _figures(
    arm: ExperimentArm,
    variant: str,
    nets: Sequence[Decimal],
    assignments: Mapping[tuple[int, ExperimentArm], int],
) -> ArmFigures:
    wins, losses = _count(nets, 1), _count(nets, -1)
    total = sum(nets, Decimal(0))
    return ArmFigures(
        arm=arm,
        variant=variant,
        trades=len(nets),
        wins=wins,
        losses=losses,
        net_profit=total,
        mean_net_pnl=total / len(nets) if nets else None,
        win_rate=Decimal(wins) / (wins + losses) if wins + losses else None,
        assigned=sum(n for (_, a), n in assignments.items() if a is arm),
    )


def sequential_test(trades: Sequence[ArmTrade], effect: Decimal | None = None) -> SequentialState:
    """The mSPRT folded over ``trades`` in ``exit_order``; ``effect``: see ``report``."""
    scale = float(effect) if effect is not None else None
    state = start_sequential(mixing_variance=scale * scale if scale is not None else None)
    for trade in sorted(trades, key=exit_order):
        if (arm := STATISTICS_ARMS.get(trade.arm)) is not None:
            state = apply_sequential(state, arm, trade.net_pnl)
    return state


def _sample_ratio(assignments: Mapping[tuple[int, ExperimentArm], int]) -> SampleRatio | None:
    shares = sorted({percent for percent, _ in assignments if 0 < percent < 100})
    tests = {}
    for percent in shares:
        counts = [
            assignments.get((percent, ExperimentArm.CONTROL), 0),
            assignments.get((percent, ExperimentArm.TREATMENT), 0),
        ]
        tests[percent] = sample_ratio_mismatch(
            counts, [100 - percent, percent], threshold=SRM_THRESHOLD
        )
    if not tests:
        return None
    chi2 = math.fsum(t.chi_square for t in tests.values())
    return SampleRatio(
        by_share=tests, chi_square=chi2, df=len(tests), p_value=chi_square_sf(chi2, len(tests))
    )
