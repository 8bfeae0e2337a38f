"""Experiment statistics against independent references (scipy, statsmodels) on fixed and
generated data, and by simulation: the mSPRT keeps the false-positive rate of an experiment peeked
at after every trade at the nominal level where naive repeated t-tests do not."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from core.errors import FillstreamError
from domain.errors import StatisticsError
from domain.experiments.distributions import (
    chi_square_sf,
    regularized_beta,
    student_t_cdf,
    student_t_quantile,
)
from domain.experiments.stats import (
    Arm,
    SequentialState,
    apply,
    bootstrap_interval,
    mann_whitney,
    sample_ratio_mismatch,
    start_sequential,
    two_proportion_test,
    welch_test,
)

EXACT = 1e-9  # relative tolerance where the math is exact

CONTROL = [Decimal(v) for v in ("12.50", "-30.00", "45.25", "-8.75", "0", "22.00", "-61.50", "5")]
TREATMENT = [Decimal(v) for v in ("40.00", "-12.50", "18.75", "66.00", "-4.25", "9.50", "31.00")]

cents = st.integers(-50_000, 50_000).map(lambda c: Decimal(c) / 100)
arm_values = st.lists(cents, min_size=2, max_size=60)


def _f(values: list[Decimal]) -> np.ndarray:
    return np.array([float(v) for v in values])


# --- special functions


@pytest.mark.parametrize("df", [0.5, 1, 2, 3.7, 10, 29.5, 100, 1000])
@pytest.mark.parametrize("t", [-40.0, -6.0, -2.5, -1.0, -0.1, 0.0, 0.3, 1.96, 4.0, 25.0])
def test_t_cdf_matches_scipy_on_a_grid(t: float, df: float) -> None:
    assert student_t_cdf(t, df) == pytest.approx(scipy.stats.t.cdf(t, df), rel=EXACT)


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 15.0, 150.0])
@pytest.mark.parametrize("b", [0.5, 1.0, 4.0, 60.0])
@pytest.mark.parametrize("x", [1e-6, 0.05, 0.3, 0.5, 0.77, 0.999])
def test_regularized_beta_matches_scipy_on_a_grid(a: float, b: float, x: float) -> None:
    assert regularized_beta(a, b, x) == pytest.approx(scipy.special.betainc(a, b, x), rel=EXACT)


@given(a=st.floats(0.5, 300), b=st.floats(0.5, 300), x=st.floats(1e-300, 1))
def test_regularized_beta_matches_scipy(a: float, b: float, x: float) -> None:
    assert regularized_beta(a, b, x) == pytest.approx(
        scipy.special.betainc(a, b, x), rel=EXACT, abs=1e-290
    )


@given(t=st.floats(-60, 60), df=st.floats(0.5, 2000))
def test_t_cdf_and_quantile_match_scipy(t: float, df: float) -> None:
    assert student_t_cdf(t, df) == pytest.approx(scipy.stats.t.cdf(t, df), rel=EXACT, abs=1e-290)
    p = scipy.stats.t.cdf(t, df)
    assume(1e-12 < p < 1 - 1e-12)
    assert student_t_quantile(p, df) == pytest.approx(scipy.stats.t.ppf(p, df), rel=1e-8, abs=1e-9)


@given(x=st.floats(0, 400), df=st.integers(1, 80))
def test_chi_square_tail_matches_scipy(x: float, df: int) -> None:
    assert chi_square_sf(x, df) == pytest.approx(scipy.stats.chi2.sf(x, df), rel=EXACT, abs=1e-290)


# --- Welch


def _assert_welch_matches_scipy(control: list[Decimal], treatment: list[Decimal]) -> None:
    ours = welch_test(control, treatment, confidence=0.9)
    ref = scipy.stats.ttest_ind(_f(treatment), _f(control), equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert ours.t == pytest.approx(ref.statistic, rel=EXACT)
    assert ours.df == pytest.approx(ref.df, rel=EXACT)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=EXACT)
    assert ours.ci_low == pytest.approx(ci.low, rel=EXACT, abs=1e-9)
    assert ours.ci_high == pytest.approx(ci.high, rel=EXACT, abs=1e-9)


def test_welch_matches_scipy_on_fixed_trades() -> None:
    _assert_welch_matches_scipy(CONTROL, TREATMENT)
    result = welch_test(CONTROL, TREATMENT)
    assert result.difference == pytest.approx(float(np.mean(_f(TREATMENT)) - np.mean(_f(CONTROL))))
    assert result.ci_low < result.difference < result.ci_high


@given(control=arm_values, treatment=arm_values)
@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_welch_matches_scipy(control: list[Decimal], treatment: list[Decimal]) -> None:
    assume(len(set(control)) > 1 or len(set(treatment)) > 1)
    _assert_welch_matches_scipy(control, treatment)


def test_welch_refuses_too_few_trades_and_no_spread() -> None:
    with pytest.raises(StatisticsError, match="welch: needs at least 2 trades per arm, has 1"):
        welch_test([Decimal(1)], TREATMENT)
    with pytest.raises(StatisticsError, match="no spread") as raised:
        welch_test([Decimal(1)] * 3, [Decimal(2)] * 3)
    assert isinstance(raised.value, FillstreamError)


# --- bootstrap


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    first = bootstrap_interval(CONTROL, TREATMENT, seed=42)
    assert first == bootstrap_interval(CONTROL, TREATMENT, seed=42)
    assert first != bootstrap_interval(CONTROL, TREATMENT, seed=43)
    assert first.resamples == 2000
    assert first.ci_low < first.difference < first.ci_high


def test_bootstrap_quantiles_are_numpys_linear_ones() -> None:
    rng = np.random.Generator(np.random.PCG64(5))
    xs, ys = np.array(CONTROL, dtype=float), np.array(TREATMENT, dtype=float)
    drawn_y = ys[rng.integers(0, len(ys), size=(300, len(ys)))]  # one block: treatment first
    drawn_x = xs[rng.integers(0, len(xs), size=(300, len(xs)))]
    diffs = drawn_y.mean(axis=1) - drawn_x.mean(axis=1)
    result = bootstrap_interval(CONTROL, TREATMENT, seed=5, resamples=300, confidence=0.9)
    assert result.ci_low == pytest.approx(np.quantile(diffs, 0.05), rel=EXACT)
    assert result.ci_high == pytest.approx(np.quantile(diffs, 0.95), rel=EXACT)


def test_bootstrap_covers_the_true_difference_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(11)
    simulations, covered = 300, 0
    for i in range(simulations):
        control = rng.exponential(2.0, 60) - 2.0  # skewed, mean 0
        treatment = rng.normal(0.5, 2.0, 60)  # mean 0.5
        ci = bootstrap_interval(list(control), list(treatment), seed=i, resamples=400)
        covered += ci.ci_low <= 0.5 <= ci.ci_high
    coverage = covered / simulations
    # nominal 0.95, measured 0.923: the percentile bootstrap runs a little under it at 60 per arm
    assert abs(coverage - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / simulations) + 0.01, coverage


# --- win rate


def _assert_proportions_match_statsmodels(wc: int, lc: int, wt: int, lt: int) -> None:
    ours = two_proportion_test(
        wins_control=wc, losses_control=lc, wins_treatment=wt, losses_treatment=lt
    )
    z, p = proportions_ztest([wt, wc], [wt + lt, wc + lc])
    low, high = confint_proportions_2indep(wt, wt + lt, wc, wc + lc, method="wald", compare="diff")
    assert ours.z == pytest.approx(z, rel=EXACT, abs=1e-12)
    assert ours.p_value == pytest.approx(p, rel=EXACT)
    assert ours.ci_low == pytest.approx(low, rel=EXACT, abs=1e-12)
    assert ours.ci_high == pytest.approx(high, rel=EXACT, abs=1e-12)


def test_win_rate_test_matches_statsmodels_on_fixed_counts() -> None:
    _assert_proportions_match_statsmodels(412, 388, 61, 39)
    result = two_proportion_test(
        wins_control=412, losses_control=388, wins_treatment=61, losses_treatment=39
    )
    assert result.rate_treatment == 0.61 and result.difference == pytest.approx(0.095)


@given(
    wc=st.integers(0, 500), lc=st.integers(0, 500), wt=st.integers(0, 500), lt=st.integers(0, 500)
)
def test_win_rate_test_matches_statsmodels(wc: int, lc: int, wt: int, lt: int) -> None:
    assume(wc + lc > 0 and wt + lt > 0 and wc + wt > 0 and lc + lt > 0)
    _assert_proportions_match_statsmodels(wc, lc, wt, lt)


def test_win_rate_test_refuses_an_empty_arm_or_no_spread() -> None:
    with pytest.raises(StatisticsError, match="needs a decided trade per arm, has 0 and 5"):
        two_proportion_test(wins_control=0, losses_control=0, wins_treatment=3, losses_treatment=2)
    with pytest.raises(StatisticsError, match="no spread"):
        two_proportion_test(wins_control=4, losses_control=0, wins_treatment=3, losses_treatment=0)


# --- Mann–Whitney


def _assert_mann_whitney_matches_scipy(control: list[Decimal], treatment: list[Decimal]) -> None:
    ours = mann_whitney(control, treatment)
    ref = scipy.stats.mannwhitneyu(_f(treatment), _f(control), method="asymptotic")
    assert ours.u_treatment == ref.statistic
    assert ours.p_value == pytest.approx(ref.pvalue, rel=EXACT)


def test_mann_whitney_matches_scipy_on_fixed_trades_with_ties() -> None:
    _assert_mann_whitney_matches_scipy(CONTROL + [Decimal("5"), Decimal("0")], TREATMENT)
    assert mann_whitney(CONTROL, TREATMENT).z > 0  # the treatment tends to be larger


@given(
    control=st.lists(st.integers(-20, 20).map(Decimal), min_size=1, max_size=60),
    treatment=st.lists(st.integers(-20, 20).map(Decimal), min_size=1, max_size=60),
)
def test_mann_whitney_matches_scipy(control: list[Decimal], treatment: list[Decimal]) -> None:
    assume(len(set(control + treatment)) > 1)
    _assert_mann_whitney_matches_scipy(control, treatment)


# --- sample ratio mismatch


def test_sample_ratio_mismatch_matches_scipy_and_flags_broken_routing() -> None:
    fine = sample_ratio_mismatch([9_046, 954], [0.9, 0.1])
    ref = scipy.stats.chisquare([9_046, 954], [9_000, 1_000])
    assert fine.chi_square == pytest.approx(ref.statistic, rel=EXACT)
    assert fine.p_value == pytest.approx(ref.pvalue, rel=EXACT)
    assert not fine.mismatch
    broken = sample_ratio_mismatch([8_800, 1_200], [90, 10])
    assert broken.mismatch and broken.p_value < 1e-9 and broken.df == 1


@given(
    counts=st.lists(st.integers(0, 100_000), min_size=2, max_size=6),
    data=st.data(),
)
def test_sample_ratio_mismatch_matches_scipy(counts: list[int], data: st.DataObject) -> None:
    assume(sum(counts) > 0)
    shares = data.draw(st.lists(st.floats(0.01, 1), min_size=len(counts), max_size=len(counts)))
    ours = sample_ratio_mismatch(counts, shares)
    expected = np.array(shares) / sum(shares) * sum(counts)
    ref = scipy.stats.chisquare(counts, expected)
    assert ours.chi_square == pytest.approx(ref.statistic, rel=1e-8, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-290)


# --- mSPRT


def _fold(tau2: float, trades: list[tuple[Arm, float]]) -> SequentialState:
    state = start_sequential(mixing_variance=tau2)
    for arm, value in trades:
        state = apply(state, arm, value)
    return state


@settings(max_examples=50)
@given(
    trades=st.lists(
        st.tuples(st.sampled_from(Arm), st.floats(-100, 100)), min_size=25, max_size=120
    ),
    tau2=st.floats(0.01, 100),
)
def test_msprt_folds_to_the_batch_formula_with_a_non_increasing_p_value(
    trades: list[tuple[Arm, float]], tau2: float
) -> None:
    xs = np.array([v for a, v in trades if a is Arm.CONTROL])
    ys = np.array([v for a, v in trades if a is Arm.TREATMENT])
    assume(len(xs) >= 10 and len(ys) >= 10)
    pooled = (((xs - xs.mean()) ** 2).sum() + ((ys - ys.mean()) ** 2).sum()) / (
        len(xs) + len(ys) - 2
    )
    assume(pooled > 1e-6)
    v = pooled * (1 / len(xs) + 1 / len(ys))
    diff = ys.mean() - xs.mean()
    expected = math.sqrt(v / (v + tau2)) * math.exp(tau2 * diff**2 / (2 * v * (v + tau2)))

    state = start_sequential(mixing_variance=tau2)
    previous = 1.0
    for arm, value in trades:
        state = apply(state, arm, value)
        assert state.p_value <= previous
        previous = state.p_value
    assert state.n_control == len(xs) and state.n_treatment == len(ys)
    assert state.likelihood_ratio == pytest.approx(expected, rel=1e-7)
    assert state.p_value <= min(1.0, 1 / state.likelihood_ratio) * (1 + 1e-12)


def test_msprt_waits_for_min_per_arm_and_accepts_decimals() -> None:
    state = _fold(1.0, [(Arm.CONTROL, 1.0), (Arm.TREATMENT, 2.0)] * 9)
    assert state.p_value == 1.0 and state.likelihood_ratio == 1.0
    state = apply(apply(state, Arm.CONTROL, Decimal("0.5")), Arm.TREATMENT, Decimal("2.5"))
    assert state.n_control == 10 and state.likelihood_ratio > 1.0
    with pytest.raises(StatisticsError, match="mixing_variance must be positive"):
        start_sequential(mixing_variance=0.0)


ALPHA = 0.05
TAU2 = 0.25  # the squared effect worth detecting, in units of the per-trade σ² (σ = 1 here)


def _first_rejections(
    effect: float, trades: int, experiments: int, seed: int, tau2: float | None = TAU2
) -> list[int | None]:
    """Each simulated experiment's trade index at which the mSPRT first rejects, peeking after
    every trade; each trade goes to either arm with probability 1/2."""
    rng = random.Random(seed)
    found: list[int | None] = []
    for _ in range(experiments):
        state, first = start_sequential(mixing_variance=tau2), None
        for i in range(trades):
            if rng.random() < 0.5:
                state = apply(state, Arm.CONTROL, rng.gauss(0.0, 1.0))
            else:
                state = apply(state, Arm.TREATMENT, rng.gauss(effect, 1.0))
            if state.p_value < ALPHA:
                first = i
                break
        found.append(first)
    return found


def test_msprt_peeked_after_every_trade_keeps_the_false_positive_rate() -> None:
    experiments = 1_000
    rejected = sum(r is not None for r in _first_rejections(0.0, 200, experiments, seed=1))
    rate = rejected / experiments
    # measured: 0.029 (seed 1) — the plug-in variance and discrete peeks make it conservative
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / experiments), rate


def test_msprt_detects_half_a_sigma_with_200_trades_per_arm() -> None:
    experiments = 500
    found = _first_rejections(0.5, 400, experiments, seed=2)
    power = sum(r is not None for r in found) / experiments
    # measured: 0.992, median 117 trades to reject; the stated power is 0.95
    assert power >= 0.95, power


def test_msprt_scaled_by_the_pooled_variance_keeps_the_false_positive_rate() -> None:
    """Without an effect given, τ² is the arms' pooled variance once each has 10 trades (what
    the guard uses)."""
    experiments = 1_000
    found = _first_rejections(0.0, 200, experiments, seed=1, tau2=None)
    rate = sum(r is not None for r in found) / experiments
    # measured: 0.037 (seed 1); 0.031 over 1,000 trades each
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / experiments), rate


def test_msprt_scaled_by_the_pooled_variance_detects_half_a_sigma() -> None:
    experiments = 500
    found = _first_rejections(0.5, 400, experiments, seed=2, tau2=None)
    power = sum(r is not None for r in found) / experiments
    # measured: 0.978; the stated power is 0.95
    assert power >= 0.95, power


def test_naive_welch_peeked_after_every_trade_inflates_false_positives() -> None:
    rng = np.random.default_rng(3)
    experiments, trades = 1_000, 200
    treated = rng.random((experiments, trades)) < 0.5
    values = rng.normal(0.0, 1.0, (experiments, trades))
    stats = []
    for arm in (~treated, treated):
        n = np.cumsum(arm, axis=1)
        s = np.cumsum(values * arm, axis=1)
        ss = np.cumsum(values**2 * arm, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s / n
            var = (ss - n * mean**2) / (n - 1)
        stats.append((n, mean, var / n))
    (nx, mx, qx), (ny, my, qy) = stats
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (my - mx) / np.sqrt(qx + qy)
        df = (qx + qy) ** 2 / (qx**2 / (nx - 1) + qy**2 / (ny - 1))
        p = 2 * scipy.stats.t.sf(np.abs(t), df)
    valid = (nx >= 10) & (ny >= 10)  # the same burn-in as the mSPRT
    rate = float(np.mean(np.any(valid & (p < ALPHA), axis=1)))
    # measured: 0.266 (seed 3), more than five times the nominal level
    assert rate > 3 * ALPHA, rate
