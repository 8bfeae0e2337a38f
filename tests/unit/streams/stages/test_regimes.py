"""The regime stage's logic, record in and records out: labels published on change, naming the
classifier version; state through the changelog; other periods, duplicates and damage."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import numpy as np

from domain.regimes import RegimeParameters, label_bars
from schemas.codec import default_codec
from schemas.events import BarClosed, Regime, RegimeLabeled
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.regimes import REGIMES_TOPIC, LabelRegimes
from tests.fixtures import stubs

CODEC = default_codec()
SMALL = RegimeParameters(atr_period=3, volatility_window=8, trend_window=5)
CHANGELOG = "streams-regimes-changelog"


def walk(n: int, *, seed: int, instrument: str = "NQ 12-26", start: int = 0) -> list[BarClosed]:
    """``n`` one-minute bars of a random walk with bursts of volatility."""
    rng = np.random.default_rng(seed)
    close = Decimal(20000)
    bars = []
    for i in range(start, start + n):
        sigma = 4 if (i // 40) % 2 else 1
        previous = close
        close = previous + Decimal(int(sigma * rng.standard_normal() * 4)) / 4
        high = max(previous, close) + Decimal(int(sigma * abs(rng.standard_normal()) * 4)) / 4
        low = min(previous, close) - Decimal(int(sigma * abs(rng.standard_normal()) * 4)) / 4
        built = stubs.bar(
            stubs.BASE_TIME + timedelta(minutes=i), str(high), str(low), instrument=instrument
        )
        bars.append(replace(built, open=previous, close=close))
    return bars


def records(bars: list[BarClosed], *, partition: int = 0, first: int = 0) -> list[Record]:
    return [
        Record("raw.market", partition, first + i, bar.instrument.encode(), CODEC.encode(bar))
        for i, bar in enumerate(bars)
    ]


def run(stage: LabelRegimes, batch_records: list[Record]) -> list[Output]:
    batch = Batch()
    stage.process(batch_records, batch)
    return batch.outputs


def labels_in(outputs: list[Output]) -> list[RegimeLabeled]:
    found = [CODEC.decode(o.value or b"") for o in outputs if o.topic == REGIMES_TOPIC]
    assert all(isinstance(label, RegimeLabeled) for label in found)
    return [label for label in found if isinstance(label, RegimeLabeled)]


def changes_of(bars: list[BarClosed], params: RegimeParameters) -> list[tuple[object, ...]]:
    """What the classifier labels, first label and each change: (time, label, bar number)."""
    changes: list[tuple[object, ...]] = []
    previous = None
    for n, label in enumerate(label_bars(bars, params), start=1):
        if label.label != previous:
            changes.append((label.ts_event, label.label, n))
        previous = label.label
    return changes


def test_a_label_is_published_for_the_first_bar_and_each_change() -> None:
    bars = walk(300, seed=1)
    outputs = run(LabelRegimes(CODEC, (SMALL,)), records(bars))
    published = labels_in(outputs)

    expected = changes_of(bars, SMALL)
    assert len(expected) > 5  # the walk's bursts change the regime
    assert [(e.envelope.ts_event, e.label, e.bars) for e in published] == expected
    assert published[0].label is Regime.WARMING_UP
    assert {e.classifier_version for e in published} == {1}
    assert all(o.key == b"NQ 12-26|1 Minute" for o in outputs if o.topic == REGIMES_TOPIC)
    last = published[-1]
    assert last.volatility is not None and last.trend is not None
    assert last.label is Regime.of(last.volatility, last.trend)
    assert last.atr is not None and last.atr > 0
    assert last.atr_percentile is not None and 0 <= last.atr_percentile <= 100
    assert last.trend_strength is not None and -1 <= last.trend_strength <= 1
    # the bar's lineage: its ingestion time and id
    (bar,) = [b for b in bars if b.envelope.ts_event == last.envelope.ts_event]
    assert last.envelope.ts_ingested == bar.envelope.ts_ingested
    assert last.envelope.causation_ids == (bar.envelope.event_id,)


def test_the_measures_are_the_classifiers_to_the_schemas_ten_places() -> None:
    bars = walk(200, seed=2)
    published = labels_in(run(LabelRegimes(CODEC, (SMALL,)), records(bars)))
    by_time = {label.ts_event: label for label in label_bars(bars, SMALL)}
    for event in published:
        exact = by_time[event.envelope.ts_event]
        for name in ("atr", "atr_percentile", "trend_strength"):
            value, reference = getattr(event, name), getattr(exact, name)
            if reference is None:
                assert value is None
            else:
                assert abs(value - reference) <= Decimal("0.5e-10"), name


def test_batches_and_restarts_from_the_changelog_publish_as_one_pass() -> None:
    bars = walk(300, seed=3)
    whole = labels_in(run(LabelRegimes(CODEC, (SMALL,)), records(bars)))

    changelog: list[Record] = []
    published: list[RegimeLabeled] = []
    for start in range(0, len(bars), 37):  # a restart before every batch
        stage = LabelRegimes(CODEC, (SMALL,))
        stage.restore(0, changelog)
        outputs = run(stage, records(bars[start : start + 37], first=start))
        published += labels_in(outputs)
        changelog += [
            Record(CHANGELOG, o.partition or 0, len(changelog) + i, o.key, o.value or b"")
            for i, o in enumerate(outputs)
            if o.topic == CHANGELOG
        ]
    assert published == whole
    # one changelog record per series changed in a batch, on the bar's partition
    assert {(r.key, r.partition) for r in changelog} == {(b"NQ 12-26|1 Minute|v1", 0)}


def test_each_instrument_is_its_own_series() -> None:
    nq, es = walk(150, seed=4), walk(150, seed=5, instrument="ES 12-26")
    mixed = [bar for pair in zip(nq, es, strict=True) for bar in pair]
    published = labels_in(run(LabelRegimes(CODEC, (SMALL,)), records(mixed)))
    for instrument, bars in (("NQ 12-26", nq), ("ES 12-26", es)):
        mine = [e for e in published if e.instrument == instrument]
        assert [(e.envelope.ts_event, e.label, e.bars) for e in mine] == changes_of(bars, SMALL)


def test_duplicates_late_bars_and_other_periods_publish_nothing() -> None:
    bars = walk(120, seed=6)
    stage = LabelRegimes(CODEC, (SMALL,))
    first = run(stage, records(bars))
    five_minute = [replace(bar, period="5 Minute") for bar in walk(50, seed=7, start=200)]
    again = run(stage, records([*bars[::-1], *five_minute], first=500))
    assert labels_in(first)
    assert again == []  # nothing changed: no label and no changelog record


def test_a_new_classifier_version_starts_the_series_afresh() -> None:
    bars = walk(200, seed=8)
    v1 = LabelRegimes(CODEC, (SMALL,))
    changelog = [
        Record(CHANGELOG, 0, i, o.key, o.value or b"")
        for i, o in enumerate(run(v1, records(bars[:100])))
        if o.topic == CHANGELOG
    ]
    v2_params = replace(SMALL, version=2)
    v2 = LabelRegimes(CODEC, (v2_params,))
    v2.restore(0, changelog)
    published = labels_in(run(v2, records(bars[100:], first=100)))
    assert published[0].label is Regime.WARMING_UP
    assert published[0].bars == 1
    assert {e.classifier_version for e in published} == {2}
    assert [(e.envelope.ts_event, e.label) for e in published] == [
        (t, label) for t, label, _ in changes_of(bars[100:], v2_params)
    ]


def test_each_classifier_labels_every_bar_as_it_would_alone() -> None:
    bars = walk(250, seed=10)
    v2_params = replace(SMALL, version=2, atr_period=9)
    both = labels_in(run(LabelRegimes(CODEC, (SMALL, v2_params)), records(bars)))
    for params in (SMALL, v2_params):
        alone = labels_in(run(LabelRegimes(CODEC, (params,)), records(bars)))
        assert [e for e in both if e.classifier_version == params.version] == alone
    assert {e.classifier_version for e in both} == {1, 2}


def test_a_classifier_added_later_starts_afresh_and_the_others_carry_on() -> None:
    bars = walk(240, seed=11)
    v2_params = replace(SMALL, version=2, trend_window=20)
    v1 = LabelRegimes(CODEC, (SMALL,))
    first = run(v1, records(bars[:120]))
    changelog = [
        Record(CHANGELOG, 0, i, o.key, o.value or b"")
        for i, o in enumerate(first)
        if o.topic == CHANGELOG
    ]
    later = LabelRegimes(CODEC, (SMALL, v2_params))
    later.restore(0, changelog)
    published = labels_in(run(later, records(bars[120:], first=120)))
    v1_whole = labels_in(run(LabelRegimes(CODEC, (SMALL,)), records(bars)))
    assert labels_in(first) + [e for e in published if e.classifier_version == 1] == v1_whole
    assert [(e.envelope.ts_event, e.label) for e in published if e.classifier_version == 2] == [
        (t, label) for t, label, _ in changes_of(bars[120:], v2_params)
    ]


def test_the_changelog_of_an_earlier_release_is_read_as_its_version() -> None:
    bars = walk(160, seed=12)
    stage = LabelRegimes(CODEC, (SMALL,))
    outputs = run(stage, records(bars[:80]))
    legacy = [  # keys as an earlier release wrote them: instrument|period
        Record(CHANGELOG, 0, i, o.key.removesuffix(b"|v1") if o.key else None, o.value or b"")
        for i, o in enumerate(outputs)
        if o.topic == CHANGELOG
    ]
    assert legacy and all(r.key == b"NQ 12-26|1 Minute" for r in legacy)
    restored = LabelRegimes(CODEC, (SMALL,))
    restored.restore(0, legacy)
    assert restored.series[0] == stage.series[0]
    forgotten = LabelRegimes(CODEC, (SMALL,))  # a tombstone of the old key drops the series
    forgotten.restore(0, [*legacy, Record(CHANGELOG, 0, 99, b"NQ 12-26|1 Minute", b"")])
    assert forgotten.series[0] == {}


def test_a_record_that_is_no_bar_is_dead_lettered() -> None:
    bars = walk(30, seed=9)
    trade_like = Record("raw.market", 1, 5, b"NQ 12-26", CODEC.encode(stubs.buy(price="21000")))
    damaged = Record("raw.market", 1, 6, b"NQ 12-26", b"\x00garbage")
    outputs = run(LabelRegimes(CODEC, (SMALL,)), [trade_like, damaged, *records(bars, partition=1)])
    letters = [o for o in outputs if o.topic == "dead-letter"]
    assert [dict(o.headers)["code"] for o in letters] == [b"wrong_schema", b"undecodable"]
    assert labels_in(outputs)[0].label is Regime.WARMING_UP  # the rest still labelled
