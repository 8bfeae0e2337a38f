"""The regime classifier: ATR and its percentile against independent computations, hysteresis,
labels of known markets, and the fold's properties (determinism, resumable, ignores repeats)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core.errors import ConfigError, InvalidEventError
from domain.regimes import (
    RegimeLabel,
    RegimeParameters,
    RegimeState,
    apply,
    classify_trend,
    classify_volatility,
    efficiency_ratio,
    format_classifiers,
    format_parameters,
    initial_state,
    label_bars,
    parse_classifiers,
    parse_parameters,
    regime_at,
    state_from_json,
    state_to_json,
)
from schemas.events import BarClosed, Regime, TrendRegime, VolatilityRegime
from tests.fixtures import stubs

DEFAULTS = RegimeParameters()
NO_HYSTERESIS = RegimeParameters(
    version=2,
    vol_low_enter=Decimal(33),
    vol_low_exit=Decimal(33),
    vol_high_exit=Decimal(67),
    vol_high_enter=Decimal(67),
    trend_exit=Decimal("0.30"),
    trend_enter=Decimal("0.30"),
)
SMALL = RegimeParameters(atr_period=3, volatility_window=8, trend_window=5)
TICK = Decimal("0.25")


def _bar(i: int, open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> BarClosed:
    built = stubs.bar(stubs.BASE_TIME + timedelta(minutes=i), str(high), str(low))
    return replace(built, open=open_, close=close)


def _ticks(x: float) -> Decimal:
    return Decimal(round(x * 4)) * TICK


def _walk(
    n: int, *, seed: int, drift: float = 0.0, sigmas: tuple[tuple[int, float], ...] = ((0, 1.0),)
) -> list[BarClosed]:
    """``n`` one-minute bars of a Gaussian walk; ``sigmas`` (from bar, sigma) change its scale."""
    rng = np.random.default_rng(seed)
    close = 20000.0
    bars = []
    for i in range(n):
        sigma = [s for start, s in sigmas if start <= i][-1]
        previous = close
        close = previous + drift + sigma * rng.standard_normal()
        high = max(previous, close) + sigma * abs(rng.standard_normal())
        low = min(previous, close) - sigma * abs(rng.standard_normal())
        bars.append(_bar(i, _ticks(previous), _ticks(high), _ticks(low), _ticks(close)))
    return bars


def _labels(bars: list[BarClosed], params: RegimeParameters = DEFAULTS) -> list[RegimeLabel]:
    return list(label_bars(bars, params))


def _flips(values: list[Any]) -> int:
    return sum(1 for a, b in zip(values, values[1:], strict=False) if a != b)


# ATR and its percentile


def test_atr_is_wilders_as_pandas_computes_it() -> None:
    bars = _walk(400, seed=1)
    frame = pd.DataFrame(
        {"high": [float(b.high) for b in bars], "low": [float(b.low) for b in bars]}
        | {"close": [float(b.close) for b in bars]}
    )
    previous_close = frame["close"].shift()
    true_range = pd.concat(
        [
            frame["high"] - frame["low"],
            (frame["high"] - previous_close).abs(),
            (frame["low"] - previous_close).abs(),
        ],
        axis=1,
    ).max(axis=1, skipna=False)
    n = DEFAULTS.atr_period
    seeded = true_range.iloc[n:].copy()
    seeded.iloc[0] = true_range.iloc[1 : n + 1].mean()
    expected = seeded.ewm(alpha=1 / n, adjust=False).mean()

    labels = _labels(bars)

    assert all(label.atr is None for label in labels[:n])
    actual = [float(label.atr) for label in labels[n:] if label.atr is not None]
    assert actual == pytest.approx(expected.tolist(), rel=1e-12)


def test_atr_percentile_is_the_weak_rank_against_the_previous_window() -> None:
    labels = _labels(_walk(500, seed=2))
    atrs = [float(label.atr) for label in labels if label.atr is not None]
    window = DEFAULTS.volatility_window
    ranked = [label for label in labels if label.atr_percentile is not None]

    assert len(ranked) == len(atrs) - window
    for i, label in enumerate(ranked):
        previous = np.array(atrs[i : i + window])
        current = atrs[i + window]
        assert float(label.atr) == current  # type: ignore[arg-type]
        expected = stats.percentileofscore(previous, current, kind="weak")
        assert float(label.atr_percentile) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]
        assert expected == pytest.approx(100 * np.mean(previous <= current))


def test_efficiency_ratio() -> None:
    closes = [Decimal(x) for x in ("10", "12", "11", "14")]
    assert efficiency_ratio(closes) == Decimal(4) / Decimal(6)
    assert efficiency_ratio(closes[::-1]) == -Decimal(4) / Decimal(6)
    assert efficiency_ratio([Decimal(5)] * 4) == 0


# Hysteresis


def test_a_percentile_hovering_at_a_threshold_flips_only_without_bands() -> None:
    hovering = [Decimal(60), Decimal(78)] * 20

    def run(params: RegimeParameters) -> list[VolatilityRegime]:
        regime: VolatilityRegime | None = None
        seen = []
        for percentile in hovering:
            regime = classify_volatility(regime, percentile, params)
            seen.append(regime)
        return seen

    assert _flips(run(NO_HYSTERESIS)) == len(hovering) - 1
    assert run(DEFAULTS) == [VolatilityRegime.NORMAL] + [VolatilityRegime.HIGH] * 39
    assert classify_volatility(VolatilityRegime.HIGH, Decimal(55), DEFAULTS) == "high"
    assert classify_volatility(VolatilityRegime.HIGH, Decimal(54), DEFAULTS) == "normal"
    assert classify_volatility(VolatilityRegime.HIGH, Decimal(24), DEFAULTS) == "low"
    assert classify_volatility(VolatilityRegime.LOW, Decimal(45), DEFAULTS) == "low"
    assert classify_volatility(VolatilityRegime.LOW, Decimal(46), DEFAULTS) == "normal"
    assert classify_volatility(VolatilityRegime.LOW, Decimal(76), DEFAULTS) == "high"


def test_a_trend_hovering_at_a_threshold_flips_only_without_bands() -> None:
    hovering = [Decimal("0.26"), Decimal("0.38")] * 20

    def run(params: RegimeParameters) -> list[TrendRegime]:
        regime: TrendRegime | None = None
        seen = []
        for strength in hovering:
            regime = classify_trend(regime, strength, params)
            seen.append(regime)
        return seen

    assert _flips(run(NO_HYSTERESIS)) == len(hovering) - 1
    assert _flips(run(DEFAULTS)) == 1
    assert classify_trend(TrendRegime.TRENDING_UP, Decimal("-0.36"), DEFAULTS) == "trending_down"
    assert classify_trend(TrendRegime.TRENDING_DOWN, Decimal("-0.25"), DEFAULTS) == "trending_down"
    assert classify_trend(TrendRegime.TRENDING_DOWN, Decimal("-0.24"), DEFAULTS) == "ranging"


def test_bands_cut_the_label_changes_of_a_random_walk() -> None:
    bars = _walk(1500, seed=3)
    banded, unbanded = _labels(bars), _labels(bars, NO_HYSTERESIS)
    # measured: labels 200 against 358, volatility 192 against 335, trend 11 against 31
    assert _flips([x.label for x in banded]) < 0.7 * _flips([x.label for x in unbanded])
    assert _flips([x.volatility for x in banded]) < 0.7 * _flips([x.volatility for x in unbanded])
    assert _flips([x.trend for x in banded]) < 0.5 * _flips([x.trend for x in unbanded])


# Known markets


def test_a_steady_rise_is_trending_up_and_a_steady_fall_trending_down() -> None:
    for drift, trend in ((1.0, TrendRegime.TRENDING_UP), (-1.0, TrendRegime.TRENDING_DOWN)):
        labels = _labels(_walk(300, seed=4, drift=drift, sigmas=((0, 0.5),)))
        assert {label.trend for label in labels[DEFAULTS.trend_window :]} == {trend}


def test_a_random_walk_is_mostly_ranging() -> None:
    for seed in range(5):
        labels = _labels(_walk(600, seed=10 + seed))[DEFAULTS.warm_up_bars :]
        ranging = sum(1 for label in labels if label.trend is TrendRegime.RANGING)
        assert ranging / len(labels) >= 0.75, seed


def test_quiet_bars_then_wild_ones_move_to_high_volatility() -> None:
    shift = 400
    labels = _labels(_walk(shift + 60, seed=5, sigmas=((0, 1.0), (shift, 6.0))))

    assert all(label.label is Regime.WARMING_UP for label in labels[: DEFAULTS.warm_up_bars])
    quiet = labels[DEFAULTS.warm_up_bars : shift]
    assert {label.volatility for label in quiet} >= {VolatilityRegime.NORMAL}
    wild = labels[shift + 3 :]
    assert {label.volatility for label in wild} == {VolatilityRegime.HIGH}
    assert all(label.atr_percentile >= 90 for label in wild)  # type: ignore[operator]
    assert all(label.label.startswith("high_vol_") for label in wild)


def test_warming_up_lasts_until_both_windows_are_full() -> None:
    labels = _labels(_walk(DEFAULTS.warm_up_bars + 1, seed=6))
    assert DEFAULTS.warm_up_bars == 114
    assert [label.label for label in labels[:-1]] == [Regime.WARMING_UP] * 114
    assert labels[-1].label is not Regime.WARMING_UP
    assert labels[DEFAULTS.trend_window - 1].trend_strength is None
    assert labels[DEFAULTS.trend_window].trend_strength is not None


# regime_at


def test_regime_at_is_the_last_label_at_or_before() -> None:
    labels = _labels(_walk(5, seed=7))
    first, second = labels[0].ts_event, labels[1].ts_event
    assert regime_at(labels, first - timedelta(seconds=1)) is None
    assert regime_at(labels, first) == labels[0]
    assert regime_at(labels, second - timedelta(seconds=1)) == labels[0]
    assert regime_at(labels, second) == labels[1]
    assert regime_at(labels, labels[-1].ts_event + timedelta(days=1)) == labels[-1]
    assert regime_at([], first) is None


# The fold's properties

_steps = st.lists(st.tuples(st.integers(-8, 8), st.integers(0, 4), st.integers(0, 4)), max_size=60)


def _bars_of(steps: list[tuple[int, int, int]]) -> list[BarClosed]:
    close = Decimal(20000)
    bars = []
    for i, (move, up, down) in enumerate(steps):
        previous, close = close, close + move * TICK
        high = max(previous, close) + up * TICK
        low = min(previous, close) - down * TICK
        bars.append(_bar(i, previous, high, low, close))
    return bars


@settings(max_examples=60, deadline=None)
@given(_steps)
def test_the_same_bars_give_the_same_labels(steps: list[tuple[int, int, int]]) -> None:
    assert _labels(_bars_of(steps), SMALL) == _labels(_bars_of(steps), SMALL)


@settings(max_examples=60, deadline=None)
@given(_steps, st.integers(0, 60))
def test_resuming_from_a_saved_state_labels_as_one_pass(
    steps: list[tuple[int, int, int]], cut: int
) -> None:
    bars = _bars_of(steps)
    state = initial_state("NQ 12-26", "1 Minute", SMALL)
    resumed = []
    for part in (bars[:cut], bars[cut:]):
        saved: RegimeState = state
        for bar in part:
            saved, label = apply(saved, bar, SMALL)
            assert label is not None
            resumed.append(label)
        # kept as a changelog keeps it: through JSON text
        state = state_from_json(json.loads(json.dumps(state_to_json(saved))))
        assert state == saved
    assert resumed == _labels(bars, SMALL)


@settings(max_examples=60, deadline=None)
@given(_steps)
def test_labels_come_from_the_documented_set(steps: list[tuple[int, int, int]]) -> None:
    labels = _labels(_bars_of(steps), SMALL)
    documented = {"warming_up"} | {
        f"{v}_vol_{t}"
        for v in ("low", "normal", "high")
        for t in ("trending_up", "trending_down", "ranging")
    }
    # "unknown" is the schema's default symbol, for readers of labels added later: never given
    assert {str(member) for member in Regime} == documented | {"unknown"}
    for n, label in enumerate(labels, start=1):
        assert label.label in documented
        assert label.version == SMALL.version
        if n <= SMALL.warm_up_bars:
            assert label.label is Regime.WARMING_UP
        else:
            assert label.volatility is not None and label.trend is not None
            assert label.label is Regime.of(label.volatility, label.trend)


@settings(max_examples=60, deadline=None)
@given(_steps, st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=30))
def test_duplicates_and_late_bars_are_ignored(
    steps: list[tuple[int, int, int]], repeats: list[tuple[int, int]]
) -> None:
    bars = _bars_of(steps)
    noisy = list(bars)
    for after, which in sorted(repeats, reverse=True):
        if bars and after < len(bars):
            # any bar at or before the one it follows: a duplicate close time or a late bar
            repeat = bars[which % (after + 1)]
            noisy.insert(after + 1, replace(repeat, high=repeat.high + 10, close=repeat.low))
    assert _labels(noisy, SMALL) == _labels(bars, SMALL)


def test_an_ignored_bar_leaves_the_state_as_it_was() -> None:
    bars = _walk(3, seed=8)
    state = initial_state("NQ 12-26", "1 Minute", DEFAULTS)
    for bar in bars:
        state, _ = apply(state, bar, DEFAULTS)
    assert apply(state, bars[1], DEFAULTS) == (state, None)
    assert apply(state, bars[2], DEFAULTS) == (state, None)


def test_a_state_refuses_another_instrument_or_classifier_version() -> None:
    bar = _walk(1, seed=9)[0]
    with pytest.raises(InvalidEventError, match="keep one state per"):
        apply(initial_state("ES 12-26", "1 Minute", DEFAULTS), bar, DEFAULTS)
    with pytest.raises(ConfigError, match="is 2 but the state was built by version 1"):
        apply(initial_state("NQ 12-26", "1 Minute", DEFAULTS), bar, NO_HYSTERESIS)


def test_label_bars_keeps_one_state_per_instrument_and_period() -> None:
    nq = _walk(150, seed=11)
    es = [replace(bar, instrument="ES 12-26") for bar in _walk(150, seed=12)]
    mixed = [bar for pair in zip(nq, es, strict=True) for bar in pair]
    labels = _labels(mixed)
    assert [label for label in labels if label.instrument == "NQ 12-26"] == _labels(nq)
    assert [label for label in labels if label.instrument == "ES 12-26"] == _labels(es)


# Parameters


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"atr_period": 1}, "regime.atr_period must be at least 2, was 1"),
        ({"version": 0}, "regime.version must be at least 1, was 0"),
        ({"volatility_window": 1}, "regime.volatility_window must be at least 2, was 1"),
        ({"trend_window": 0}, "regime.trend_window must be at least 2, was 0"),
        (
            {"vol_high_enter": Decimal(101)},
            "regime.vol_high_enter must be within [0, 100], was 101",
        ),
        (
            {"vol_high_exit": Decimal(80)},
            "regime.vol_high_enter must be at least regime.vol_high_exit (80), was 75",
        ),
        (
            {"vol_low_exit": Decimal(20)},
            "regime.vol_low_exit must be at least regime.vol_low_enter (25), was 20",
        ),
        (
            {"vol_low_exit": Decimal(55)},
            "regime.vol_low_exit must be below regime.vol_high_exit (55), was 55",
        ),
        (
            {"trend_exit": Decimal("0.4")},
            "regime.trend_enter must be at least regime.trend_exit (0.4), was 0.35",
        ),
        ({"trend_enter": Decimal("1.5")}, "regime.trend_enter must be within [0, 1], was 1.5"),
    ],
)
def test_invalid_parameters_name_the_parameter(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RegimeParameters(**overrides)
    assert str(raised.value) == message
    assert raised.value.setting == message.split(" ")[0]


# FILLSTREAM_REGIME


def test_parameters_from_the_setting_keep_the_defaults_of_those_unnamed() -> None:
    assert parse_parameters("") == DEFAULTS
    assert parse_parameters(" version=3 , atr_period=20,trend_enter=0.4 ") == replace(
        DEFAULTS, version=3, atr_period=20, trend_enter=Decimal("0.4")
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 99),
    st.integers(2, 50),
    st.integers(2, 300),
    st.decimals(0, 1, places=2),
    st.decimals(0, 1, places=2),
)
def test_formatted_parameters_read_back_the_same(
    version: int, atr_period: int, trend_window: int, a: Decimal, b: Decimal
) -> None:
    params = RegimeParameters(
        version=version,
        atr_period=atr_period,
        trend_window=trend_window,
        trend_exit=min(a, b),
        trend_enter=max(a, b),
    )
    assert parse_parameters(format_parameters(params)) == params


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("atr=14", "FILLSTREAM_REGIME has 'atr=14'; expected name=value with a name among "),
        ("version", "FILLSTREAM_REGIME has 'version'; expected name=value"),
        ("version=two", "FILLSTREAM_REGIME version must be a whole number, was 'two'"),
        ("trend_enter=high", "FILLSTREAM_REGIME trend_enter must be a finite number, was 'high'"),
        ("trend_enter=NaN", "FILLSTREAM_REGIME trend_enter must be a finite number, was 'NaN'"),
        ("version=2,version=3", "FILLSTREAM_REGIME names version twice"),
        ("atr_period=1", "FILLSTREAM_REGIME atr_period must be at least 2, was 1"),
        (
            "trend_exit=0.5",
            "FILLSTREAM_REGIME trend_enter must be at least regime.trend_exit (0.5), was 0.35",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_parameters(text)
    assert raised.value.setting == "FILLSTREAM_REGIME"
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_the_setting_may_name_several_classifiers_each_its_own_version() -> None:
    assert parse_classifiers("") == (DEFAULTS,)
    assert parse_classifiers(" ; ") == (DEFAULTS,)
    two = parse_classifiers("version=1; version=2,atr_period=20")
    assert two == (DEFAULTS, replace(DEFAULTS, version=2, atr_period=20))
    assert parse_classifiers(format_classifiers(two)) == two
    with pytest.raises(ConfigError) as raised:
        parse_classifiers("version=2; version=2,atr_period=9")
    assert str(raised.value) == (
        "FILLSTREAM_REGIME names version 2 twice; give each classifier its own version"
    )
    with pytest.raises(ConfigError, match="atr_period must be at least 2"):
        parse_classifiers("version=1; version=2,atr_period=1")
