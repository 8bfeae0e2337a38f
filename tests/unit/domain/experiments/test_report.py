"""An experiment's report against scipy and statsmodels on generated trades: the per-arm figures,
Welch, Mann–Whitney, the win-rate test, the sample-ratio check per ramp share and combined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from bridge.experiments import change_event
from domain.experiments.model import Experiment, ExperimentSpec, fold
from domain.experiments.report import ArmTrade, report
from schemas.events import ExperimentAction, ExperimentArm

SPEC = ExperimentSpec(
    experiment_id="breakout-v2", strategy="Breakout", control_variant="v1", treatment_variant="v2"
)
T0 = datetime(2026, 9, 22, 14, tzinfo=UTC)
CONTROL, TREATMENT = ExperimentArm.CONTROL, ExperimentArm.TREATMENT


def experiment() -> Experiment:
    configured = change_event(
        SPEC.experiment_id, ExperimentAction.CONFIGURED, actor="tests", spec=SPEC, at=T0
    )
    return fold([configured]).get(SPEC.experiment_id)


def trades(seed: int, n_control: int, n_treatment: int, lift: float) -> list[ArmTrade]:
    rng = np.random.default_rng(seed)
    made = []
    for i, arm in enumerate([CONTROL] * n_control + [TREATMENT] * n_treatment):
        net = rng.normal(12 + (lift if arm is TREATMENT else 0), 60)
        made.append(
            ArmTrade(
                arm=arm,
                exit_time=T0 + timedelta(minutes=7 * i % 997, seconds=i),
                net_pnl=Decimal(str(round(net * 4) / 4)),
            )  # fmt: skip
        )
    return made


def nets(made: list[ArmTrade], arm: ExperimentArm) -> list[float]:
    return [float(t.net_pnl) for t in made if t.arm is arm]


def test_the_arms_and_their_differences_are_scipys_and_statsmodels() -> None:
    made = trades(1, 140, 60, lift=15)
    assignments = {(10, CONTROL): 540, (10, TREATMENT): 61, (25, CONTROL): 300, (25, TREATMENT): 95}
    got = report(experiment(), made, assignments)

    xs, ys = nets(made, CONTROL), nets(made, TREATMENT)
    assert (got.control.trades, got.treatment.trades) == (140, 60)
    assert got.control.mean_net_pnl == sum(t.net_pnl for t in made if t.arm is CONTROL) / 140
    assert (got.control.assigned, got.treatment.assigned) == (840, 156)
    assert got.treatment.variant == "v2"

    welch = stats.ttest_ind(ys, xs, equal_var=False)
    assert got.welch is not None
    assert got.welch.t == pytest.approx(welch.statistic, rel=1e-9)
    assert got.welch.p_value == pytest.approx(welch.pvalue, rel=1e-7)
    assert got.welch.ci_low < got.welch.difference < got.welch.ci_high

    mw = stats.mannwhitneyu(ys, xs, use_continuity=True, alternative="two-sided",
                            method="asymptotic")  # fmt: skip
    assert got.mann_whitney is not None
    assert got.mann_whitney.u_treatment == pytest.approx(mw.statistic)
    assert got.mann_whitney.p_value == pytest.approx(mw.pvalue, rel=1e-7)

    wins = [sum(v > 0 for v in ys), sum(v > 0 for v in xs)]
    decided = [sum(v != 0 for v in ys), sum(v != 0 for v in xs)]
    z, p = proportions_ztest(wins, decided)
    assert got.win_rate is not None
    assert got.win_rate.z == pytest.approx(z, rel=1e-9)
    assert got.win_rate.p_value == pytest.approx(p, rel=1e-7)

    assert got.bootstrap is not None
    assert got.bootstrap.ci_low < got.bootstrap.difference < got.bootstrap.ci_high
    assert report(experiment(), made, assignments).bootstrap == got.bootstrap  # seeded

    per_share = [stats.chisquare([540, 61], [601 * 0.9, 601 * 0.1]),
                 stats.chisquare([300, 95], [395 * 0.75, 395 * 0.25])]  # fmt: skip
    assert got.sample_ratio is not None
    assert got.sample_ratio.by_share[10].p_value == pytest.approx(per_share[0].pvalue, rel=1e-7)
    combined = sum(s.statistic for s in per_share)
    assert got.sample_ratio.chi_square == pytest.approx(combined)
    assert got.sample_ratio.p_value == pytest.approx(stats.chi2.sf(combined, 2), rel=1e-7)
    assert not got.sample_ratio.mismatch
    assert got.missing == {
        "by regime": "needs a regime with at least 2 trades per arm and a spread"
    }


def test_broken_routing_is_flagged() -> None:
    got = report(experiment(), [], {(10, CONTROL): 500, (10, TREATMENT): 500, (0, CONTROL): 90})
    assert got.sample_ratio is not None and got.sample_ratio.mismatch
    assert list(got.sample_ratio.by_share) == [10]  # 0 % splits nothing


def test_statistics_the_trades_do_not_allow_yet_say_why() -> None:
    made = [ArmTrade(arm=CONTROL, exit_time=T0, net_pnl=Decimal(5))]
    got = report(experiment(), made, {(100, TREATMENT): 3})
    assert got.welch is None and got.mann_whitney is None and got.win_rate is None
    assert "at least 2 trades per arm" in got.missing["welch"]
    assert "a trade per arm" in got.missing["mann-whitney"]
    assert got.missing["sample ratio"].startswith("no assignments")
    assert got.sequential.p_value == 1.0
    assert got.treatment.mean_net_pnl is None and got.treatment.win_rate is None


def test_the_sequential_test_folds_the_trades_in_exit_order() -> None:
    made = trades(2, 300, 300, lift=40)
    got = report(experiment(), made, {}, effect=Decimal(40))
    shuffled = report(experiment(), list(reversed(made)), {}, effect=Decimal(40))
    assert got.sequential == shuffled.sequential
    assert got.sequential.p_value < 0.05  # a large effect is found
    null = report(experiment(), trades(3, 300, 300, lift=0), {}, effect=Decimal(40))
    assert null.sequential.p_value > 0.05


def regime_trades(
    seed: int, plan: dict[tuple[ExperimentArm, str], tuple[int, float]]
) -> list[ArmTrade]:
    """Trades of each (arm, regime): (count, mean net PnL), sd 20."""
    rng = np.random.default_rng(seed)
    made, i = [], 0
    for (arm, regime), (count, mean) in plan.items():
        for _ in range(count):
            i += 1
            made.append(ArmTrade(arm=arm, exit_time=T0 + timedelta(seconds=i), regime=regime,
                                 net_pnl=Decimal(str(round(rng.normal(mean, 20), 2)))))  # fmt: skip
    return made


def test_the_regime_stratified_effect_is_the_weighted_within_regime_differences() -> None:
    made = regime_trades(4, {
        (CONTROL, "high_vol_ranging"): (30, 5.0), (TREATMENT, "high_vol_ranging"): (12, 9.0),
        (CONTROL, "low_vol_trending_up"): (50, 15.0),
        (TREATMENT, "low_vol_trending_up"): (20, 14.0),
        (CONTROL, "normal_vol_ranging"): (8, 0.0), (TREATMENT, "normal_vol_ranging"): (1, 0.0),
    })  # fmt: skip
    made.append(ArmTrade(arm=TREATMENT, exit_time=T0, net_pnl=Decimal(3)))  # unlabelled
    got = report(experiment(), made, {})

    # by hand with numpy: each regime with 2+ trades per arm, weighted by its trades
    diffs, variances, sizes = [], [], []
    for regime in ("high_vol_ranging", "low_vol_trending_up"):
        xs = np.array([float(t.net_pnl) for t in made if t.regime == regime and t.arm is CONTROL])
        ys = np.array([float(t.net_pnl) for t in made if t.regime == regime and t.arm is TREATMENT])
        diffs.append(ys.mean() - xs.mean())
        variances.append(ys.var(ddof=1) / len(ys) + xs.var(ddof=1) / len(xs))
        sizes.append(len(xs) + len(ys))
    w = np.array(sizes) / sum(sizes)
    expected = float(w @ np.array(diffs))
    se = float(np.sqrt((w**2) @ np.array(variances)))

    assert [e.regime for e in got.by_regime] == ["high_vol_ranging", "low_vol_trending_up"]
    assert [e.difference for e in got.by_regime] == pytest.approx(diffs, rel=1e-12)
    assert got.stratified is not None
    assert got.stratified.difference == pytest.approx(expected, rel=1e-12)
    assert got.stratified.std_error == pytest.approx(se, rel=1e-12)
    assert got.stratified.ci_low == pytest.approx(expected - stats.norm.ppf(0.975) * se)
    assert got.stratified.p_value == pytest.approx(2 * stats.norm.sf(abs(expected / se)))
    assert got.stratified.trades_left_out == 9 + 1  # normal_vol_ranging and the unlabelled one


def test_a_variant_that_merely_traded_an_easier_market_does_not_look_better() -> None:
    # no effect within either regime, but the treatment traded the easy one far more often
    made = regime_trades(5, {
        (CONTROL, "easy"): (40, 30.0), (CONTROL, "hard"): (160, -10.0),
        (TREATMENT, "easy"): (160, 30.0), (TREATMENT, "hard"): (40, -10.0),
    })  # fmt: skip
    got = report(experiment(), made, {})
    assert got.welch is not None and got.welch.difference > 20 and got.welch.p_value < 1e-6
    assert got.stratified is not None
    assert got.stratified.ci_low < 0 < got.stratified.ci_high
    assert abs(got.stratified.difference) < 5


def test_without_a_regime_both_arms_traded_the_stratified_effect_says_why() -> None:
    made = regime_trades(6, {(CONTROL, "easy"): (5, 1.0), (TREATMENT, "hard"): (5, 1.0)})
    got = report(experiment(), made, {})
    assert got.by_regime == () and got.stratified is None
    assert "at least 2 trades per arm" in got.missing["by regime"]
