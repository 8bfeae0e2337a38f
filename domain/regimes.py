"""The market regime of an instrument's bars: a volatility regime and a trend regime. Pure.

A fold over one (instrument, period)'s ``BarClosed`` events: ``apply(state, bar, params)``
returns the next state and the bar's ``RegimeLabel``.

Volatility
    ATR with Wilder's smoothing (as Wilder and TA-Lib define it): the true range needs the
    previous close, so the first bar has none; the first ATR is the mean of the first
    ``atr_period`` true ranges, each later one ``(ATR * (n - 1) + TR) / n``. Its *percentile* is
    the weak percentile rank against the ``volatility_window`` ATRs before it: the percentage of
    them at or below the current ATR (``scipy.stats.percentileofscore(kind="weak")``). A rank
    rather than a level makes one set of thresholds fit every instrument and period.
Trend
    Kaufman's efficiency ratio over ``trend_window`` bars, signed:
    ``(close_n - close_0) / sum(|close_i - close_i-1|)``, in [-1, 1]; 0 when prices did not move.
    Chosen over a least-squares slope divided by ATR because it is dimensionless and bounded
    without a second scale (the slope/ATR ratio mixes the volatility regime into the trend one),
    exact in ``Decimal``, and its noise level is known: on a random walk it is about normal with
    a standard deviation of ``1.25 / sqrt(trend_window)`` (0.18 for 50 bars), so ``trend_enter``
    0.35 is crossed by chance a few percent of the time while a steady drift stays far above it.
Hysteresis
    A regime is entered when the measure goes beyond its ``*_enter`` threshold and left only when
    it comes back beyond the ``*_exit`` one, so a measure hovering at a threshold does not flip
    the label on every bar. Equal enter and exit thresholds mean no hysteresis. The bands are
    20 points wide because the rank of a 14-bar ATR moves about 10 points a bar on a stationary
    walk (median 7): narrower bands are crossed by that noise alone.

Labels: ``{low,normal,high}_vol_{trending_up,trending_down,ranging}`` (9), and ``warming_up`` for
the first ``params.warm_up_bars`` bars (114 with the defaults: the first ATR comes at bar 15, its
first percentile against 100 ATRs at bar 115; the trend is known from bar 51). Every accepted
bar gets a label; a consumer that keeps only the changes loses nothing ``regime_at`` needs.

A bar whose close time is not after the last accepted one's (a duplicate or a bar out of order) is
ignored: the state is returned unchanged with no label, so the first bar of a close time in log
order wins and a replay labels alike. Everything is ``Decimal`` in a fixed context: no floats,
wall clock or randomness, so labels are the same on every machine. Each bar costs O(window).

Bump ``RegimeParameters.version`` when a parameter or rule changes: labels name it, and a state
built by one version refuses the parameters of another (rebuild from the first bar instead).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from core.errors import ConfigError, InvalidEventError
from schemas.events import BarClosed, Regime, TrendRegime, VolatilityRegime

_CTX = Context(prec=28)
"""Divisions and products use this context, not the thread's, so results never depend on it
(sums and differences of prices, a few digits each, are exact at any usual precision)."""

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeParameters:
    """The classifier's configuration; percentiles in [0, 100], trend thresholds in [0, 1].

    Defaults: a 14-bar ATR (Wilder's own), ranked against the last 100 ATRs; terciles (33 / 67)
    widened into bands: high is entered above 75 and left below 55, low entered below 25 and left
    above 45. A 50-bar trend window, entered at an efficiency ratio beyond ±0.35 and left within
    ±0.25 (a random walk's ratio has a standard deviation of about 0.18): on random walks 90 % of
    the labels are ``ranging``.
    """

    version: int = 1
    atr_period: int = 14
    volatility_window: int = 100
    vol_low_enter: Decimal = Decimal(25)
    vol_low_exit: Decimal = Decimal(45)
    vol_high_enter: Decimal = Decimal(75)
    vol_high_exit: Decimal = Decimal(55)
    trend_window: int = 50
    trend_enter: Decimal = Decimal("0.35")
    trend_exit: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        _at_least("version", self.version, 1)
        _at_least("atr_period", self.atr_period, 2)
        _at_least("volatility_window", self.volatility_window, 2)
        _at_least("trend_window", self.trend_window, 2)
        _ordered(
            ("vol_low_enter", self.vol_low_enter),
            ("vol_low_exit", self.vol_low_exit),
            ("vol_high_exit", self.vol_high_exit),
            ("vol_high_enter", self.vol_high_enter),
            low=Decimal(0),
            high=_HUNDRED,
        )
        if self.vol_low_exit >= self.vol_high_exit:
            raise ConfigError(
                "regime.vol_low_exit",
                f"must be below regime.vol_high_exit ({self.vol_high_exit}), "
                f"was {self.vol_low_exit}",
            )
        _ordered(
            ("trend_exit", self.trend_exit),
            ("trend_enter", self.trend_enter),
            low=Decimal(0),
            high=Decimal(1),
        )

    @property
    def warm_up_bars(self) -> int:
        """How many bars are labelled ``warming_up`` before the first regime."""
        return max(1 + self.atr_period + self.volatility_window, 1 + self.trend_window) - 1


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"regime.{name}", f"must be at least {minimum}, was {value}")


def _ordered(*named: tuple[str, Decimal], low: Decimal, high: Decimal) -> None:
    """Each value within [low, high] and at least the one before it."""
    for name, value in named:
        if not low <= value <= high:
            raise ConfigError(f"regime.{name}", f"must be within [{low}, {high}], was {value}")
    for (before, lesser), (name, value) in zip(named, named[1:], strict=False):
        if value < lesser:
            raise ConfigError(
                f"regime.{name}", f"must be at least regime.{before} ({lesser}), was {value}"
            )


SETTING = "FILLSTREAM_REGIME"
"""The classifier's parameters as ``name=value`` pairs, comma-separated (a phase may set it)."""

_INTEGER_PARAMETERS = ("version", "atr_period", "volatility_window", "trend_window")


def parse_parameters(text: str) -> RegimeParameters:
    """``FILLSTREAM_REGIME``: ``version=2,atr_period=20,trend_enter=0.4``; unnamed parameters
    keep their defaults, an empty text is the defaults (version 1). Errors name the setting."""
    values: dict[str, int | Decimal] = {}
    known = RegimeParameters.__dataclass_fields__
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, raw = (piece.strip() for piece in item.partition("="))
        if not sep or name not in known:
            raise ConfigError(
                SETTING,
                f"has {item!r}; expected name=value with a name among {', '.join(known)}",
            )
        if name in values:
            raise ConfigError(SETTING, f"names {name} twice")
        values[name] = _parameter(name, raw)
    try:
        return RegimeParameters(**values)  # type: ignore[arg-type]
    except ConfigError as e:
        raise ConfigError(SETTING, f"{e.setting.removeprefix('regime.')} {e.reason}") from None


def _parameter(name: str, raw: str) -> int | Decimal:
    if name in _INTEGER_PARAMETERS:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(SETTING, f"{name} must be a whole number, was {raw!r}") from None
    try:
        number = Decimal(raw)
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ConfigError(SETTING, f"{name} must be a finite number, was {raw!r}")
    return number


def format_parameters(params: RegimeParameters) -> str:
    """The ``FILLSTREAM_REGIME`` text of ``params``, every parameter named."""
    return ",".join(f"{name}={getattr(params, name)}" for name in params.__dataclass_fields__)


def parse_classifiers(text: str) -> tuple[RegimeParameters, ...]:
    """``FILLSTREAM_REGIME`` in full: one or more classifiers, each ``parse_parameters``'s text,
    separated by ``;`` (``version=1; version=2,atr_period=20``), each with its own version.
    Every bar is labelled by each of them: a new classifier relabels history beside the one the
    views serve. An empty text is the defaults (version 1)."""
    parts = [part.strip() for part in text.split(";")]
    classifiers = tuple(parse_parameters(part) for part in parts if part) or (parse_parameters(""),)
    versions = [c.version for c in classifiers]
    for version in versions:
        if versions.count(version) > 1:
            raise ConfigError(
                SETTING, f"names version {version} twice; give each classifier its own version"
            )
    return classifiers


def format_classifiers(classifiers: Sequence[RegimeParameters]) -> str:
    """The ``FILLSTREAM_REGIME`` text of ``classifiers``."""
    return "; ".join(format_parameters(c) for c in classifiers)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeLabel:
    """The regime in force from ``ts_event`` (the bar's close time) until the next label.

    ``volatility``, ``trend`` and the measures are ``None`` while ``warming_up``, or while their
    own window is still filling (with the defaults the trend is known from bar 51, the
    volatility from bar 115).
    """

    instrument: str
    period: str
    ts_event: datetime
    volatility: VolatilityRegime | None
    trend: TrendRegime | None
    label: Regime
    atr: Decimal | None
    atr_percentile: Decimal | None
    trend_strength: Decimal | None
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeState:
    """What the classifier remembers of one (instrument, period): bounded windows, immutable."""

    instrument: str
    period: str
    version: int
    last_ts: datetime | None = None
    true_ranges: tuple[Decimal, ...] = ()
    """The true ranges before the first ATR (emptied once it is seeded)."""
    atr: Decimal | None = None
    atrs: tuple[Decimal, ...] = ()
    """The last ``volatility_window`` ATRs before the current one."""
    closes: tuple[Decimal, ...] = ()
    """The last ``trend_window + 1`` closes, the current one last."""
    volatility: VolatilityRegime | None = None
    trend: TrendRegime | None = None


def initial_state(instrument: str, period: str, params: RegimeParameters) -> RegimeState:
    return RegimeState(instrument=instrument, period=period, version=params.version)


def state_to_json(state: RegimeState) -> dict[str, object]:
    """``state`` as JSON values (decimals as strings, exactly), for a changelog."""
    return {
        "instrument": state.instrument,
        "period": state.period,
        "version": state.version,
        "last_ts": None if state.last_ts is None else state.last_ts.isoformat(),
        "true_ranges": [str(v) for v in state.true_ranges],
        "atr": None if state.atr is None else str(state.atr),
        "atrs": [str(v) for v in state.atrs],
        "closes": [str(v) for v in state.closes],
        "volatility": None if state.volatility is None else state.volatility.value,
        "trend": None if state.trend is None else state.trend.value,
    }


def state_from_json(kept: Mapping[str, Any]) -> RegimeState:
    """The state ``state_to_json`` wrote."""
    return RegimeState(
        instrument=kept["instrument"],
        period=kept["period"],
        version=int(kept["version"]),
        last_ts=None if kept["last_ts"] is None else datetime.fromisoformat(kept["last_ts"]),
        true_ranges=tuple(Decimal(v) for v in kept["true_ranges"]),
        atr=None if kept["atr"] is None else Decimal(kept["atr"]),
        atrs=tuple(Decimal(v) for v in kept["atrs"]),
        closes=tuple(Decimal(v) for v in kept["closes"]),
        volatility=None if kept["volatility"] is None else VolatilityRegime(kept["volatility"]),
        trend=None if kept["trend"] is None else TrendRegime(kept["trend"]),
    )


def apply(
    state: RegimeState, bar: BarClosed, params: RegimeParameters
) -> tuple[RegimeState, RegimeLabel | None]:
    """The state after ``bar`` and its label; ``None`` (state unchanged) for a duplicate or a bar
    out of order."""
    if params.version != state.version:
        raise ConfigError(
            "regime.version",
            f"is {params.version} but the state was built by version {state.version}; "
            "rebuild it from the first bar",
        )
    if (bar.instrument, bar.period) != (state.instrument, state.period):
        raise InvalidEventError(
            "instrument",
            f"bar of {bar.instrument!r} {bar.period!r} applied to the regime state of "
            f"{state.instrument!r} {state.period!r}; keep one state per (instrument, period)",
        )
    ts = bar.envelope.ts_event
    if state.last_ts is not None and ts <= state.last_ts:
        return state, None

    true_ranges, atr, atrs = state.true_ranges, state.atr, state.atrs
    previous_close = state.closes[-1] if state.closes else None
    if previous_close is not None:
        if atr is not None:
            atrs = (*atrs, atr)[-params.volatility_window :]
        atr, true_ranges = _next_atr(atr, true_ranges, _true_range(bar, previous_close), params)
    closes = (*state.closes, bar.close)[-(params.trend_window + 1) :]

    percentile = None
    volatility = state.volatility
    if atr is not None and len(atrs) == params.volatility_window:
        percentile = _percentile_rank(atrs, atr)
        volatility = classify_volatility(volatility, percentile, params)
    strength = None
    trend = state.trend
    if len(closes) == params.trend_window + 1:
        strength = efficiency_ratio(closes)
        trend = classify_trend(trend, strength, params)

    new_state = replace(
        state,
        last_ts=ts,
        true_ranges=true_ranges,
        atr=atr,
        atrs=atrs,
        closes=closes,
        volatility=volatility,
        trend=trend,
    )
    label = (
        Regime.of(volatility, trend)
        if volatility is not None and trend is not None
        else Regime.WARMING_UP
    )
    return new_state, RegimeLabel(
        instrument=state.instrument,
        period=state.period,
        ts_event=ts,
        volatility=volatility,
        trend=trend,
        label=label,
        atr=atr,
        atr_percentile=percentile,
        trend_strength=strength,
        version=params.version,
    )


def label_bars(bars: Iterable[BarClosed], params: RegimeParameters) -> Iterator[RegimeLabel]:
    """The labels of ``bars`` in order, one state per (instrument, period), ignored bars skipped."""
    states: dict[tuple[str, str], RegimeState] = {}
    for bar in bars:
        key = (bar.instrument, bar.period)
        state = states.get(key) or initial_state(bar.instrument, bar.period, params)
        states[key], label = apply(state, bar, params)
        if label is not None:
            yield label


def regime_at(labels_sorted: Sequence[RegimeLabel], ts: datetime) -> RegimeLabel | None:
    """The label in force at ``ts``: the last one at or before it (``None`` before the first).

    ``labels_sorted`` are one (instrument, period)'s labels by ``ts_event``.
    """
    i = bisect.bisect_right(labels_sorted, ts, key=lambda label: label.ts_event)
    return labels_sorted[i - 1] if i else None


def classify_volatility(
    previous: VolatilityRegime | None, percentile: Decimal, params: RegimeParameters
) -> VolatilityRegime:
    """The volatility regime at ``percentile``, staying in ``previous`` within its band."""
    if previous is VolatilityRegime.HIGH and percentile >= params.vol_high_exit:
        return VolatilityRegime.HIGH
    if previous is VolatilityRegime.LOW and percentile <= params.vol_low_exit:
        return VolatilityRegime.LOW
    if percentile > params.vol_high_enter:
        return VolatilityRegime.HIGH
    if percentile < params.vol_low_enter:
        return VolatilityRegime.LOW
    return VolatilityRegime.NORMAL


def classify_trend(
    previous: TrendRegime | None, strength: Decimal, params: RegimeParameters
) -> TrendRegime:
    """The trend regime at efficiency ratio ``strength``, staying in ``previous`` in its band."""
    if previous is TrendRegime.TRENDING_UP and strength >= params.trend_exit:
        return TrendRegime.TRENDING_UP
    if previous is TrendRegime.TRENDING_DOWN and strength <= -params.trend_exit:
        return TrendRegime.TRENDING_DOWN
    if strength > params.trend_enter:
        return TrendRegime.TRENDING_UP
    if strength < -params.trend_enter:
        return TrendRegime.TRENDING_DOWN
    return TrendRegime.RANGING


def efficiency_ratio(closes: Sequence[Decimal]) -> Decimal:
    """Net move over the path travelled, signed: +1 a straight rise, -1 a straight fall."""
    path = sum((abs(b - a) for a, b in zip(closes, closes[1:], strict=False)), Decimal(0))
    if not path:
        return Decimal(0)
    return _CTX.divide(closes[-1] - closes[0], path)


def _true_range(bar: BarClosed, previous_close: Decimal) -> Decimal:
    return max(bar.high - bar.low, abs(bar.high - previous_close), abs(bar.low - previous_close))


def _next_atr(
    atr: Decimal | None,
    true_ranges: tuple[Decimal, ...],
    true_range: Decimal,
    params: RegimeParameters,
) -> tuple[Decimal | None, tuple[Decimal, ...]]:
    """Wilder's ATR after ``true_range``: seeded by a simple mean, then smoothed."""
    n = params.atr_period
    if atr is not None:
        return _CTX.divide(_CTX.add(_CTX.multiply(atr, n - 1), true_range), n), ()
    true_ranges = (*true_ranges, true_range)
    if len(true_ranges) < n:
        return None, true_ranges
    return _CTX.divide(sum(true_ranges, Decimal(0)), n), ()


def _percentile_rank(window: Sequence[Decimal], value: Decimal) -> Decimal:
    """The percentage of ``window`` at or below ``value``."""
    at_or_below = sum(1 for v in window if v <= value)
    return _CTX.divide(_CTX.multiply(_HUNDRED, at_or_below), len(window))
