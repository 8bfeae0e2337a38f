"""Statistics of an A/B experiment between two arms (control, treatment). Pure, no scipy.

Inputs are per-trade net PnL values (``Decimal`` in the domain; floats inside the math) and
win/loss counts; every difference is treatment − control. Each test returns a frozen result:

- ``welch_test``: Welch's t-test for the difference in mean net PnL per trade (t, the
  Welch–Satterthwaite df, two-sided p-value, confidence interval).
- ``bootstrap_interval``: percentile bootstrap interval for the difference in means, reproducible
  from its seed (``domain.experiments.bootstrap``, numpy's PCG64, no clock).
- ``two_proportion_test``: pooled two-proportion z-test for the win rate (wins / decided trades),
  with the unpooled (Wald) interval for the difference.
- ``mann_whitney``: Mann–Whitney U, two-sided, normal approximation with tie and continuity
  correction.
- ``start_sequential`` / ``apply``: the mixture SPRT (Johari, Pekelis & Walsh, "Always valid
  inference"), folded trade by trade in O(1), with the always-valid p-value.
- ``sample_ratio_mismatch``: chi-square goodness of fit of the assigned counts to the split.

Too few observations raise ``StatisticsError`` (a ``FillstreamError`` leaf) naming the statistic
and what is needed, except in the sequential test, whose p-value stays 1 until it can be computed.
The t and chi-square distributions are in ``domain.experiments.distributions``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from statistics import NormalDist

from domain.errors import StatisticsError
from domain.experiments.bootstrap import BootstrapInterval, bootstrap_difference, mean
from domain.experiments.distributions import (
    check_confidence,
    chi_square_sf,
    normal_sf2,
    student_t_quantile,
    student_t_sf2,
    two_sided_z,
)

Value = Decimal | float | int


class Arm(StrEnum):
    CONTROL = "CONTROL"
    TREATMENT = "TREATMENT"


def _floats(values: Sequence[Value]) -> list[float]:
    return [float(v) for v in values]


def mean_variance(xs: Sequence[float]) -> tuple[float, float]:
    mean = math.fsum(xs) / len(xs)
    return mean, math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


# --- fixed-sample tests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WelchResult:
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    difference: float
    std_error: float
    t: float
    df: float
    p_value: float
    confidence: float
    ci_low: float
    ci_high: float


def welch_test(
    control: Sequence[Value], treatment: Sequence[Value], *, confidence: float = 0.95
) -> WelchResult:
    """Welch's t-test of mean(treatment) − mean(control); needs ≥ 2 trades per arm and a spread."""
    check_confidence(confidence)
    xs, ys = _floats(control), _floats(treatment)
    if len(xs) < 2 or len(ys) < 2:
        raise StatisticsError(
            "welch", f"needs at least 2 trades per arm, has {len(xs)} and {len(ys)}"
        )
    mx, vx = mean_variance(xs)
    my, vy = mean_variance(ys)
    qx, qy = vx / len(xs), vy / len(ys)
    se2 = qx + qy
    if se2 <= 0.0:
        raise StatisticsError("welch", "every trade in both arms has the same net PnL (no spread)")
    df = se2 * se2 / (qx * qx / (len(xs) - 1) + qy * qy / (len(ys) - 1))
    se = math.sqrt(se2)
    diff = my - mx
    t = diff / se
    half = student_t_quantile(0.5 + confidence / 2.0, df) * se
    return WelchResult(
        n_control=len(xs),
        n_treatment=len(ys),
        mean_control=mx,
        mean_treatment=my,
        difference=diff,
        std_error=se,
        t=t,
        df=df,
        p_value=student_t_sf2(t, df),
        confidence=confidence,
        ci_low=diff - half,
        ci_high=diff + half,
    )


def bootstrap_interval(
    control: Sequence[Value],
    treatment: Sequence[Value],
    *,
    seed: int,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> BootstrapInterval:
    """Percentile bootstrap of mean(treatment) − mean(control), each arm resampled on its own
    (``domain.experiments.bootstrap``)."""
    return bootstrap_difference(
        control, treatment, mean, seed=seed, resamples=resamples, confidence=confidence
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProportionResult:
    rate_control: float
    rate_treatment: float
    difference: float
    z: float
    p_value: float
    confidence: float
    ci_low: float
    ci_high: float


def two_proportion_test(
    *,
    wins_control: int,
    losses_control: int,
    wins_treatment: int,
    losses_treatment: int,
    confidence: float = 0.95,
) -> ProportionResult:
    """Pooled z-test of the win rates (wins / (wins + losses)); the interval is unpooled (Wald).

    Needs a decided trade in each arm, and both a win and a loss overall.
    """
    n_c, n_t = wins_control + losses_control, wins_treatment + losses_treatment
    if n_c < 1 or n_t < 1:
        raise StatisticsError("win rate", f"needs a decided trade per arm, has {n_c} and {n_t}")
    p_c, p_t = wins_control / n_c, wins_treatment / n_t
    pooled = (wins_control + wins_treatment) / (n_c + n_t)
    if pooled in (0.0, 1.0):
        raise StatisticsError("win rate", "every decided trade has the same outcome (no spread)")
    diff = p_t - p_c
    z = diff / math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_t))
    half = two_sided_z(confidence) * math.sqrt(p_c * (1.0 - p_c) / n_c + p_t * (1.0 - p_t) / n_t)
    return ProportionResult(
        rate_control=p_c,
        rate_treatment=p_t,
        difference=diff,
        z=z,
        p_value=normal_sf2(z),
        confidence=confidence,
        ci_low=diff - half,
        ci_high=diff + half,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MannWhitneyResult:
    u_treatment: float  # the treatment's U: pairs where it is larger, ties counting half
    probability_superiority: float  # u_treatment / (n_treatment × n_control)
    z: float
    p_value: float


def mann_whitney(control: Sequence[Value], treatment: Sequence[Value]) -> MannWhitneyResult:
    """Two-sided Mann–Whitney U, normal approximation with tie and continuity correction."""
    xs, ys = _floats(control), _floats(treatment)
    n_x, n_y = len(xs), len(ys)
    if n_x < 1 or n_y < 1:
        raise StatisticsError("mann-whitney", f"needs a trade per arm, has {n_x} and {n_y}")
    pooled = sorted([(v, False) for v in xs] + [(v, True) for v in ys])
    n = n_x + n_y
    rank_sum_y, ties, i = 0.0, 0.0, 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        size = j - i + 1
        rank_sum_y += (i + j + 2) / 2.0 * sum(1 for k in range(i, j + 1) if pooled[k][1])
        ties += size**3 - size
        i = j + 1
    u_y = rank_sum_y - n_y * (n_y + 1) / 2.0
    mu = n_x * n_y / 2.0
    var = n_x * n_y / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0.0:
        raise StatisticsError("mann-whitney", "every trade has the same net PnL (no spread)")
    z = (max(u_y, n_x * n_y - u_y) - mu - 0.5) / math.sqrt(var)
    return MannWhitneyResult(
        u_treatment=u_y,
        probability_superiority=u_y / (n_x * n_y),
        z=z if u_y >= mu else -z,
        p_value=min(1.0, 2.0 * NormalDist().cdf(-z)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRatioResult:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    df: int
    p_value: float
    mismatch: bool  # p_value < threshold: assignment does not follow the split


def sample_ratio_mismatch(
    counts: Sequence[int], shares: Sequence[float], *, threshold: float = 0.001
) -> SampleRatioResult:
    """Chi-square goodness of fit of assigned ``counts`` to the split ``shares`` (any scale)."""
    if len(counts) != len(shares) or len(counts) < 2:
        raise StatisticsError(
            "sample ratio", f"needs ≥ 2 arms with a share each, has {len(counts)} / {len(shares)}"
        )
    total, share_sum = sum(counts), math.fsum(shares)
    if total < 1 or any(s <= 0.0 for s in shares):
        raise StatisticsError("sample ratio", "needs assignments and positive shares")
    expected = tuple(total * s / share_sum for s in shares)
    chi2 = math.fsum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    p = chi_square_sf(chi2, len(counts) - 1)
    return SampleRatioResult(
        observed=tuple(counts),
        expected=expected,
        chi_square=chi2,
        df=len(counts) - 1,
        p_value=p,
        mismatch=p < threshold,
    )


# --- sequential test (mSPRT) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SequentialState:
    """The mSPRT after some trades: per-arm running count, mean and squared deviations (Welford).

    With the estimate Δ = mean(treatment) − mean(control), its variance V = σ²(1/n_t + 1/n_c) and
    a normal mixing distribution N(0, τ²) over the true difference, the mixture likelihood ratio is

        Λ = √(V / (V + τ²)) · exp(τ² Δ² / (2 V (V + τ²)))

    (Johari, Pekelis & Walsh's two-sample form, which it equals for equal arms). σ² is the plug-in
    pooled within-arm variance (the arms are assumed to share it). With σ² known and trades arriving
    in control/treatment pairs, Λ is a martingale under no difference, so p = min over time of 1/Λ
    is valid at any stopping time; the plug-in σ² and uneven arrival make it approximate, which
    ``min_per_arm`` (trades per arm before Λ is computed) keeps small: over 1,000 simulated A/A
    experiments of 200 randomly routed trades, peeked after each, 2.9 % ever reject at α = 0.05.
    ``mixing_variance`` (τ², currency²) should be about the square of the effect worth detecting.
    None: the pooled within-arm variance at the first trade both arms have ``min_per_arm`` (an
    effect of one standard deviation), fixed from then on, so each trade still costs O(1).
    """

    mixing_variance: float | None
    min_per_arm: int
    n_control: int = 0
    mean_control: float = 0.0
    m2_control: float = 0.0
    n_treatment: int = 0
    mean_treatment: float = 0.0
    m2_treatment: float = 0.0
    likelihood_ratio: float = 1.0
    p_value: float = 1.0

    @property
    def difference(self) -> float:
        return self.mean_treatment - self.mean_control


def start_sequential(*, mixing_variance: float | None, min_per_arm: int = 10) -> SequentialState:
    """The test before any trade; ``mixing_variance``: see ``SequentialState``."""
    if mixing_variance is not None and not mixing_variance > 0.0:
        raise StatisticsError("msprt", f"mixing_variance must be positive, was {mixing_variance}")
    if min_per_arm < 2:
        raise StatisticsError("msprt", f"min_per_arm must be at least 2, was {min_per_arm}")
    return SequentialState(mixing_variance=mixing_variance, min_per_arm=min_per_arm)


def apply(state: SequentialState, arm: Arm, value: Value) -> SequentialState:
    """Fold one trade's net PnL into the test, O(1)."""
    x = float(value)
    match arm:
        case Arm.CONTROL:
            n = state.n_control + 1
            delta = x - state.mean_control
            mean = state.mean_control + delta / n
            state = replace(
                state,
                n_control=n,
                mean_control=mean,
                m2_control=state.m2_control + delta * (x - mean),
            )
        case Arm.TREATMENT:
            n = state.n_treatment + 1
            delta = x - state.mean_treatment
            mean = state.mean_treatment + delta / n
            state = replace(
                state,
                n_treatment=n,
                mean_treatment=mean,
                m2_treatment=state.m2_treatment + delta * (x - mean),
            )
    n_c, n_t = state.n_control, state.n_treatment
    if min(n_c, n_t) < state.min_per_arm:
        return state
    variance = (state.m2_control + state.m2_treatment) / (n_c + n_t - 2)
    if variance <= 0.0:
        return state
    v = variance * (1.0 / n_c + 1.0 / n_t)
    tau2 = state.mixing_variance if state.mixing_variance is not None else variance
    diff = state.difference
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * diff * diff / (2.0 * v * (v + tau2))
    return replace(
        state,
        mixing_variance=tau2,
        likelihood_ratio=math.exp(min(log_lr, 700.0)),
        p_value=min(state.p_value, math.exp(-log_lr)),
    )
