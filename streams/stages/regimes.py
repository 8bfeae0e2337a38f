"""The regime stage: closed bars (``raw.market``) → regime labels (``derived.regimes``).

A ``runtime.deriver`` stage folding each (instrument, period)'s bars through each classifier of
``FILLSTREAM_REGIME`` (``domain.regimes.parse_classifiers``: one or more parameter sets, each
its own version; a phase may change them) on bars of ``FILLSTREAM_REGIME_PERIOD``; bars of other
periods are passed over. A ``RegimeLabeled`` is published for a series' first bar and whenever
its label changes, naming the classifier version: the label in force at any moment is the
series' last one of that version at or before it.

``raw.market`` is keyed by instrument, so one source partition holds all of a series. What a
batch changes of a series (the classifier's windows, its last label, how many bars it accepted)
goes to the changelog on the record's partition, in the same transaction as the labels.

Each classifier version has series of its own (changelog key ``instrument|period|v<version>``;
the key of earlier releases, ``instrument|period``, is read as the version its state names). A
version added later starts its series afresh (``warming_up``); ``fillstream regimes relabel``
adds one in a phase and rewinds the stage to the beginning, so the new version labels all of
history while the others keep labelling (their labels come again, alike, and the projection
keeps one of each); ``fillstream regimes serve N`` picks the version the views read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from prometheus_client import Counter

from core.settings import Settings
from domain.regimes import (
    RegimeLabel,
    RegimeParameters,
    RegimeState,
    apply,
    initial_state,
    parse_classifiers,
    state_from_json,
    state_to_json,
)
from schemas.catalog import DERIVED_REGIMES, RAW_MARKET, STREAMS_REGIMES_CHANGELOG, record_headers
from schemas.codec import Codec
from schemas.events import BarClosed, Envelope, EventId, Regime, RegimeLabeled, schema_name
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record, decoded

REGIMES_TOPIC = DERIVED_REGIMES
PRODUCER = "fillstream streams.regimes"
_SCALE = Decimal("1e-10")

LABELS = Counter(
    "fillstream_stream_regime_changes_total",
    "Regime labels published (a series' first bar and each change), by label.",
    ["label"],
)


_Key = tuple[str, str, int]
"""A series: instrument, period, classifier version."""


@dataclass(frozen=True, slots=True)
class Series:
    """What the stage keeps of one (instrument, period)."""

    state: RegimeState
    """Its ``version`` is the classifier's."""
    label: Regime | None = None
    """The last label published."""
    bars: int = 0
    """Bars the classifier accepted under ``state.version``."""


class LabelRegimes:
    """See the module docstring."""

    name = "regimes"
    source = RAW_MARKET
    changelog: str | None = STREAMS_REGIMES_CHANGELOG

    def __init__(
        self,
        codec: Codec,
        classifiers: Sequence[RegimeParameters],
        period: str = "1 Minute",
    ) -> None:
        self.codec = codec
        self.classifiers = tuple(classifiers)
        self.period = period
        self.series: dict[int, dict[_Key, Series]] = {}
        self._changed: dict[int, set[_Key]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> LabelRegimes:
        return cls(codec, parse_classifiers(settings.regime), settings.regime_period)

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        series: dict[_Key, Series] = {}
        for record in records:
            if record.key is None:
                continue
            instrument, period, version = _parse_key(record.key.decode())
            if not record.value:
                for key in [k for k in series if k[:2] == (instrument, period)]:
                    if version is None or key[2] == version:
                        del series[key]
                continue
            kept = json.loads(record.value)
            state = state_from_json(kept["state"])
            series[(instrument, period, state.version)] = Series(
                state,
                None if kept["label"] is None else Regime(kept["label"]),
                int(kept["bars"]),
            )
        self.series[partition] = series

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.series.pop(partition, None)
            self._changed.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        labelled = passed = 0
        for record in records:
            bar = decoded(self.codec, record, BarClosed, batch, "streams.regimes")
            if bar is None:
                continue
            if bar.period != self.period:
                passed += 1
                continue
            labelled += 1
            for classifier in self.classifiers:
                label = self._apply(record.partition, bar, classifier)
                if label is not None:
                    batch.outputs.append(label)
        if records:
            metrics.EVENTS.labels(records[0].topic, "labelled").inc(labelled)
            metrics.EVENTS.labels(records[0].topic, "passed").inc(passed)
        for partition, keys in self._changed.items():
            series = self.series[partition]
            for key in sorted(keys):
                batch.outputs.append(
                    Output(
                        self.changelog or "",
                        f"{key[0]}|{key[1]}|v{key[2]}".encode(),
                        _kept(series[key]),
                        partition=partition,
                    )
                )
        self._changed.clear()

    def _apply(self, partition: int, bar: BarClosed, params: RegimeParameters) -> Output | None:
        """Fold ``bar`` into its series of ``params``' version; the label's record if the label
        changed."""
        key = (bar.instrument, bar.period, params.version)
        held = self.series.setdefault(partition, {})
        series = held.get(key)
        if series is None:
            series = Series(initial_state(bar.instrument, bar.period, params))
        state, label = apply(series.state, bar, params)
        if label is None:  # a duplicate or a bar out of order: nothing changes
            return None
        changed = label.label != series.label
        held[key] = Series(state, label.label, series.bars + 1)
        self._changed.setdefault(partition, set()).add(key)
        if not changed:
            return None
        event = labelled(label, bar, series.bars + 1)
        LABELS.labels(event.label.value).inc()
        return Output(
            REGIMES_TOPIC,
            f"{bar.instrument}|{bar.period}".encode(),
            self.codec.encode(event),
            record_headers(schema_name(event), event.envelope.event_id),
        )


def _parse_key(key: str) -> tuple[str, str, int | None]:
    """A changelog key's instrument, period and version (None in an earlier release's key)."""
    head, _, last = key.rpartition("|")
    if last[:1] == "v" and last[1:].isdigit() and "|" in head:
        instrument, _, period = head.rpartition("|")
        return instrument, period, int(last[1:])
    return head, last, None


def labelled(label: RegimeLabel, bar: BarClosed, bars: int) -> RegimeLabeled:
    """The event of ``label``, given to ``bar`` (the ``bars``-th of its series)."""
    series = f"{label.instrument}|{label.period}|v{label.version}|{label.ts_event.isoformat()}"
    return RegimeLabeled(
        envelope=Envelope(
            event_id=EventId("rg-" + hashlib.sha256(series.encode()).hexdigest()[:32]),
            ts_event=label.ts_event,
            ts_ingested=bar.envelope.ts_ingested,
            source=bar.envelope.source,
            producer=PRODUCER,
            causation_ids=(bar.envelope.event_id,),
        ),
        instrument=label.instrument,
        period=label.period,
        label=label.label,
        volatility=label.volatility,
        trend=label.trend,
        atr=_scaled(label.atr),
        atr_percentile=_scaled(label.atr_percentile),
        trend_strength=_scaled(label.trend_strength),
        classifier_version=label.version,
        bars=bars,
    )


def _scaled(value: Decimal | None) -> Decimal | None:
    """To the schema's 10 places (a measure carries up to 28 digits), trailing zeros dropped."""
    if value is None:
        return None
    return value.quantize(_SCALE, ROUND_HALF_EVEN).normalize() + 0


def _kept(series: Series) -> bytes:
    return json.dumps(
        {
            "state": state_to_json(series.state),
            "label": None if series.label is None else series.label.value,
            "bars": series.bars,
        },
        sort_keys=True,
    ).encode()
