"""The distributions the experiment statistics need, in plain Python: Student's t and the
chi-square from the regularized incomplete beta and gamma functions (continued fractions after
Numerical Recipes' ``betacf`` and ``gcf``), and the standard normal's two-sided tail."""

from __future__ import annotations

import math
from statistics import NormalDist

from domain.errors import StatisticsError

_EPS = 1e-15
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; NR's ``betacf``)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000 + int(10 * math.sqrt(max(a, b)))):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    raise StatisticsError("incomplete beta", f"no convergence for a={a}, b={b}, x={x}")


def regularized_beta(a: float, b: float, x: float, y: float | None = None) -> float:
    """I_x(a, b); ``y`` = 1 − x when the caller knows it more precisely than ``1 - x``."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, y) / b


def student_t_sf2(t: float, df: float) -> float:
    """Two-sided tail P(|T| ≥ |t|) of Student's t with ``df`` degrees of freedom."""
    t2 = t * t
    return regularized_beta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def student_t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) of Student's t with ``df`` (> 0, not necessarily whole) degrees of freedom."""
    tail = student_t_sf2(t, df) / 2.0
    return tail if t < 0 else 1.0 - tail


def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T ≤ t) = p, by bisection on the tail (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise StatisticsError("t quantile", f"p must be in (0, 1), was {p}")
    tail = 2.0 * min(p, 1.0 - p)
    lo, hi = 0.0, 1.0
    while student_t_sf2(hi, df) > tail:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if student_t_sf2(mid, df) > tail else (lo, mid)
    t = (lo + hi) / 2.0
    return t if p > 0.5 else -t


def _gamma_q(a: float, x: float) -> float:
    """Upper regularized incomplete gamma Q(a, x): series below a + 1, continued fraction above."""
    if x <= 0.0:
        return 1.0
    front = math.exp(-x + a * math.log(x) - math.lgamma(a))
    limit = 10_000 + int(10 * math.sqrt(a))
    if x < a + 1.0:
        ap, term = a, 1.0 / a
        total = term
        for _ in range(limit):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                return 1.0 - total * front
    else:
        b = x + 1.0 - a
        c, d = 1.0 / _TINY, 1.0 / b
        h = d
        for i in range(1, limit):
            an = -i * (i - a)
            b += 2.0
            d = an * d + b
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = b + an / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
            if abs(d * c - 1.0) < _EPS:
                return front * h
    raise StatisticsError("incomplete gamma", f"no convergence for a={a}, x={x}")


def chi_square_sf(x: float, df: float) -> float:
    """P(X ≥ x) for a chi-square with ``df`` degrees of freedom."""
    return _gamma_q(df / 2.0, x / 2.0)


def normal_sf2(z: float) -> float:
    """Two-sided tail P(|Z| ≥ |z|) of the standard normal."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_sided_z(confidence: float) -> float:
    """The z of a two-sided interval at ``confidence`` (1.96 at 0.95)."""
    check_confidence(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise StatisticsError("confidence", f"must be in (0, 1), was {confidence}")
