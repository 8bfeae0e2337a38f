"""Confidence calibration, walk-forward: how far a strategy's own ``confidence`` can be trusted.

A signal's confidence in [0, 1] is its strategy's estimate of the chance the trade wins. From
signals joined to their outcomes (``Outcome``; one strategy's, or one strategy-and-regime's once
it has enough) ``walk_forward`` learns a map from confidence to the frequency such signals won,
and measures on held-out periods whether the map helps. A ``Model`` is plain numbers, so it travels
as a ``CalibrationFitted`` event and applies without scikit-learn:

- isotonic: scikit-learn's ``IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)`` kept as
  its breakpoints; ``apply`` interpolates linearly between them and clips beyond, as its predict.
- Platt: a logistic regression of the outcome on the confidence itself, x = confidence, so
  p = 1/(1+exp(-(a x + b))), as ``domain.gate.decide.calibrate`` applies it. C=1e6: next to no
  penalty, yet finite on separable data. With one class only (all won or all lost) there is
  nothing to regress on: a=0 and p is Laplace's (wins + 1) / (n + 2), never a certainty.
- identity: the raw confidence, in force while too few outcomes are known.

The walk-forward, for ``period`` P, ``min_outcomes`` M and ``now``:

1. Only outcomes known before ``now`` (``known_time < now``) take part.
2. Periods are fixed from the first of those outcomes' signal times, one every P. A fold holds
   out the signals emitted in its period [start, start + P); a period without one makes no fold.
3. The model in force during a fold is fitted at its start on the outcomes known before it
   (``known_time < start``) only; with fewer than M of them it is identity.
4. Its method is Platt at the first fold with M outcomes. At each later fold it is whichever of
   isotonic and Platt had the lower Brier in the last fold with ``candidates``: both fitted at that
   fold's start and scored on its held-out signals whose outcome was known by its end (those
   known later would be a look-ahead). A tie goes to Platt, which has two parameters.
5. ``Calibration.model``, for use from ``now`` on, is fitted on every outcome known before ``now``
   with the method rule 4 gives the next fold; None with fewer than M outcomes.
6. The raw and calibrated figures pool every fold's held-out signals, each predicted by the model
   in force during its fold (identity, i.e. the raw confidence, in the first ones).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from domain.errors import DomainError
from schemas.events import CalibrationMethod

_PLATT_C = 1e6


class CalibrationError(DomainError, ValueError):
    """An outcome, model or argument the calibration cannot use; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A signal joined to its result: what it claimed, whether it won, and when each was known."""

    signal_time: datetime
    known_time: datetime
    confidence: float
    won: bool

    def __post_init__(self) -> None:
        _check_aware("signal_time", self.signal_time)
        _check_aware("known_time", self.known_time)
        if not 0.0 <= self.confidence <= 1.0:  # NaN fails this too
            raise CalibrationError("confidence", f"must be in [0, 1], was {self.confidence}")
        if self.known_time < self.signal_time:
            reason = f"{self.known_time} is before signal_time {self.signal_time}"
            raise CalibrationError("known_time", reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A fitted calibration as plain numbers; see the module docstring for each method."""

    method: CalibrationMethod
    thresholds_x: tuple[float, ...] = ()
    thresholds_y: tuple[float, ...] = ()
    platt_a: float = 0.0
    platt_b: float = 0.0
    fitted_at: datetime
    trained_on: int

    def __post_init__(self) -> None:
        _check_aware("fitted_at", self.fitted_at)
        if self.method is CalibrationMethod.UNKNOWN:
            raise CalibrationError("method", "unknown (written by a newer version?); refit it")
        xs, ys = self.thresholds_x, self.thresholds_y
        if self.method is CalibrationMethod.ISOTONIC and (
            not xs or len(xs) != len(ys) or any(a >= b for a, b in zip(xs, xs[1:], strict=False))
        ):
            raise CalibrationError(
                "thresholds_x",
                f"an isotonic model needs strictly ascending breakpoints, one per thresholds_y "
                f"value; was {len(xs)} x and {len(ys)} y",
            )

    def apply(self, confidence: float) -> float:
        """The calibrated probability of a win for a raw confidence (clipped to [0, 1])."""
        if math.isnan(confidence):
            raise CalibrationError("confidence", "must be a number in [0, 1], was nan")
        c = min(max(confidence, 0.0), 1.0)
        match self.method:
            case CalibrationMethod.ISOTONIC:
                return _interpolate(self.thresholds_x, self.thresholds_y, c)
            case CalibrationMethod.PLATT:
                return _sigmoid(self.platt_a * c + self.platt_b)
            case _:
                return c


def fit_isotonic(outcomes: Sequence[Outcome], at: datetime) -> Model:
    """Isotonic regression of the outcome on the confidence, on the outcomes known before ``at``."""
    from sklearn.isotonic import IsotonicRegression  # fitting only: applying needs no sklearn

    training = _known_before(outcomes, at)
    regression = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        np.array([o.confidence for o in training]), np.array([float(o.won) for o in training])
    )
    return Model(
        method=CalibrationMethod.ISOTONIC,
        thresholds_x=tuple(regression.X_thresholds_.tolist()),
        thresholds_y=tuple(regression.y_thresholds_.tolist()),
        fitted_at=at,
        trained_on=len(training),
    )


def fit_platt(outcomes: Sequence[Outcome], at: datetime) -> Model:
    """Platt scaling of the confidence, on the outcomes known before ``at``."""
    training = _known_before(outcomes, at)
    wins = sum(o.won for o in training)
    if wins in (0, len(training)):  # one class: nothing to separate, so a smoothed constant
        a, b = 0.0, math.log(wins + 1) - math.log(len(training) - wins + 1)  # its logit
    else:
        from sklearn.linear_model import LogisticRegression

        regression = LogisticRegression(C=_PLATT_C, max_iter=1000).fit(
            np.array([[o.confidence] for o in training]),
            np.array([int(o.won) for o in training]),
        )
        a, b = float(regression.coef_[0, 0]), float(regression.intercept_[0])
    return Model(
        method=CalibrationMethod.PLATT,
        platt_a=a,
        platt_b=b,
        fitted_at=at,
        trained_on=len(training),
    )


# --- how good probabilities are ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReliabilityBin:
    """One bin of a reliability diagram: (lower, upper], the first one [0, upper]."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed: float  # the frequency of wins


def brier(probabilities: Sequence[float], won: Sequence[bool]) -> float:
    """The mean squared difference between each probability and its outcome (1 won, 0 lost)."""
    p, y = _arrays(probabilities, won)
    return float(np.mean((p - y) ** 2))


def reliability(
    probabilities: Sequence[float], won: Sequence[bool], bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """The non-empty bins of ``bins`` equal-width ones over [0, 1], as ``calibration_curve``'s."""
    p, y = _arrays(probabilities, won)
    if bins < 1:
        raise CalibrationError("bins", f"must be at least 1, was {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], p)  # a value on an edge belongs to the bin below it
    counts = np.bincount(ids, minlength=bins)
    sums = np.bincount(ids, weights=p, minlength=bins)
    wins = np.bincount(ids, weights=y, minlength=bins)
    return tuple(
        ReliabilityBin(
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
            count=int(counts[i]),
            mean_predicted=float(sums[i] / counts[i]),
            observed=float(wins[i] / counts[i]),
        )
        for i in np.flatnonzero(counts)
    )


def expected_calibration_error(
    probabilities: Sequence[float], won: Sequence[bool], bins: int = 10
) -> float:
    """The bins' |observed - mean predicted|, weighted by their share of the probabilities."""
    table = reliability(probabilities, won, bins)
    total = sum(b.count for b in table)
    return math.fsum(b.count / total * abs(b.observed - b.mean_predicted) for b in table)


# --- walk-forward --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Fold:
    """One held-out period [start, end) and the model in force during it."""

    start: datetime
    end: datetime
    model: Model
    candidates: Mapping[CalibrationMethod, float]  # Brier of each method; empty while identity
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """A walk-forward run: its folds, the figures on their held-out signals, the model from now."""

    folds: tuple[Fold, ...]
    model: Model | None
    raw_brier: float | None
    calibrated_brier: float | None
    raw_ece: float | None
    calibrated_ece: float | None
    raw_reliability: tuple[ReliabilityBin, ...]
    calibrated_reliability: tuple[ReliabilityBin, ...]
    held_out: int


_FITTERS: Mapping[CalibrationMethod, Callable[[Sequence[Outcome], datetime], Model]] = {
    CalibrationMethod.ISOTONIC: fit_isotonic,
    CalibrationMethod.PLATT: fit_platt,
}


def walk_forward(
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    period: timedelta = timedelta(days=7),
    min_outcomes: int = 30,
) -> Calibration:
    """Calibrate walk-forward as the module docstring's rules say."""
    _check_aware("now", now)
    if period <= timedelta(0):
        raise CalibrationError("period", f"must be positive, was {period}")
    if min_outcomes < 1:
        raise CalibrationError("min_outcomes", f"must be at least 1, was {min_outcomes}")
    known = sorted((o for o in outcomes if o.known_time < now), key=lambda o: o.signal_time)
    folds: list[Fold] = []
    held_out: list[tuple[Outcome, Model]] = []
    method = CalibrationMethod.PLATT
    for start, held in _periods(known, period):
        fold = _fold(known, held, start, start + period, method, min_outcomes)
        folds.append(fold)
        held_out.extend((o, fold.model) for o in held)
        if fold.candidates:
            method = _better(fold.candidates)
    raw = [o.confidence for o, _ in held_out]
    calibrated = [model.apply(o.confidence) for o, model in held_out]
    won = [o.won for o, _ in held_out]
    return Calibration(
        folds=tuple(folds),
        model=_FITTERS[method](known, now) if len(known) >= min_outcomes else None,
        raw_brier=brier(raw, won) if won else None,
        calibrated_brier=brier(calibrated, won) if won else None,
        raw_ece=expected_calibration_error(raw, won) if won else None,
        calibrated_ece=expected_calibration_error(calibrated, won) if won else None,
        raw_reliability=reliability(raw, won) if won else (),
        calibrated_reliability=reliability(calibrated, won) if won else (),
        held_out=len(won),
    )


def _fold(
    known: Sequence[Outcome],
    held: Sequence[Outcome],
    start: datetime,
    end: datetime,
    method: CalibrationMethod,
    min_outcomes: int,
) -> Fold:
    fitted: dict[CalibrationMethod, Model] = {}
    if sum(o.known_time < start for o in known) >= min_outcomes:
        fitted = {m: fit(known, start) for m, fit in _FITTERS.items()}
    judged = [o for o in held if o.known_time < end]  # what the next fold's start knows of these
    won = [o.won for o in judged]
    scored = fitted.items() if judged else ()
    candidates = {m: brier([f.apply(o.confidence) for o in judged], won) for m, f in scored}
    identity = Model(method=CalibrationMethod.IDENTITY, fitted_at=start, trained_on=0)
    return Fold(
        start=start,
        end=end,
        model=fitted.get(method, identity),
        candidates=MappingProxyType(candidates),
        count=len(held),
    )


def _periods(
    known: Sequence[Outcome], period: timedelta
) -> Iterator[tuple[datetime, list[Outcome]]]:
    """Each period's start and its signals, skipping the empty ones; ``known`` by signal time."""
    i = 0
    while i < len(known):
        origin = known[0].signal_time
        start = origin + (known[i].signal_time - origin) // period * period
        held: list[Outcome] = []
        while i < len(known) and known[i].signal_time < start + period:
            held.append(known[i])
            i += 1
        yield start, held


def _better(candidates: Mapping[CalibrationMethod, float]) -> CalibrationMethod:
    isotonic, platt = candidates[CalibrationMethod.ISOTONIC], candidates[CalibrationMethod.PLATT]
    return CalibrationMethod.ISOTONIC if isotonic < platt else CalibrationMethod.PLATT


# --- helpers -------------------------------------------------------------------------------------


def _known_before(outcomes: Sequence[Outcome], at: datetime) -> list[Outcome]:
    _check_aware("at", at)
    training = [o for o in outcomes if o.known_time < at]
    if not training:
        raise CalibrationError("outcomes", f"none known before {at.isoformat()}")
    return training


def _interpolate(xs: tuple[float, ...], ys: tuple[float, ...], x: float) -> float:
    # numpy.interp's arithmetic, which IsotonicRegression.predict uses, to the last bit
    x = min(max(x, xs[0]), xs[-1])
    j = bisect_right(xs, x) - 1
    if x == xs[j]:
        return ys[j]
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    return slope * (x - xs[j]) + ys[j]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0  # exp overflows past 709


def _arrays(
    probabilities: Sequence[float], won: Sequence[bool]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(won, dtype=np.float64)
    if len(p) == 0 or len(p) != len(y):
        raise CalibrationError(
            "probabilities", f"need one per outcome and at least one; were {len(p)} for {len(y)}"
        )
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise CalibrationError("probabilities", "must all be numbers in [0, 1]")
    return p, y


def _check_aware(field: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalibrationError(field, f"must be timezone-aware (UTC), was {value.isoformat()}")
