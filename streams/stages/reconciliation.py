"""Position reconciliation: NinjaTrader's reported positions (``raw.positions``) against the
derived ones (``derived.positions``), drifts published to ``derived.reconciliation``.

Three ``streams.runtime.deriver`` stages:

1. ``reconciliation-reported`` copies each ``PositionUpdated`` NinjaTrader reports for an
   account (one naming a strategy is a strategy's position, not the account's: passed over)
   from ``raw.positions`` to ``streams-reconciliation-feed``, keyed by account;
2. ``reconciliation-derived`` copies each ``PositionChanged`` of ``derived.positions`` to the
   same topic, keyed by account, except paper trading's (source ``paper``, account
   ``PAPER:…``: NinjaTrader never reports those);
3. ``reconciliation`` folds them per account and instrument (``domain.reconciliation``): the
   reported position (long +, short −, flat 0) against the sum of every strategy's open
   quantity, and publishes a ``PositionDrift`` when a disagreement has settled
   (``FILLSTREAM_DRIFT_GRACE_MS``), when its amounts change and settle again, and, resolved,
   when they agree again and that has settled.

An account is compared once NinjaTrader has reported a position of it (any instrument, flat
included): accounts only imported from exports have no reports to compare with. From then on a
position only one side knows is a drift too (NinjaTrader reports an instrument matching never
saw, or matching holds one NinjaTrader reports flat).

**Time.** Each feed partition keeps the latest event time read of each side; the earlier of the
two is how far the stream stands, so a side lagging behind the other (the derived side follows
matching) cannot make a disagreement look settled. A pair whose last change is ``grace`` behind
that settles, and so, while the partition is read to its end (matching's end-of-partition rule),
does one whose last change was ingested ``grace`` ago on the clock. The first rule depends on the
feed alone, so a rewind of this stage publishes what the live run did, unless the clock rule
decided first. Both copying stages write the feed independently; a side that lags more than the
grace behind the other (a worker catching up on one of them) can raise a drift that resolves
once it has caught up.

The state (each pair and each partition's two event times) is in
``streams-reconciliation-changelog`` (``pair|account|instrument``, ``watermark``), written on the
record's partition in the same transaction as the drifts. Records that do not decode, or are
neither event, go to the dead-letter topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from core.errors import FillstreamError
from core.settings import Settings
from domain.paper import paper_account
from domain.reconciliation import (
    Pair,
    derive,
    pair_from_json,
    pair_to_json,
    report,
    settle,
)
from schemas.catalog import (
    DERIVED_POSITIONS,
    DERIVED_RECONCILIATION,
    RAW_POSITIONS,
    STREAMS_RECONCILIATION_CHANGELOG,
    STREAMS_RECONCILIATION_FEED,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import PositionChanged, PositionUpdated, Source, schema_name
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record, Stateless, copy_to, decoded

FEED_TOPIC = STREAMS_RECONCILIATION_FEED
DRIFTS_TOPIC = DERIVED_RECONCILIATION
_STAGE = "streams.reconciliation"

_Key = tuple[str, str]
"""Account, instrument."""


def _now() -> datetime:
    return datetime.now(UTC)


class CopyReported(Stateless):
    """Stage 1; see the module docstring."""

    name = "reconciliation-reported"
    source = RAW_POSITIONS

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            event = decoded(self.codec, record, PositionUpdated, batch, f"streams.{self.name}")
            if event is None or event.strategy:
                continue
            copied += 1
            batch.outputs.append(copy_to(record, FEED_TOPIC, event.account, event))
        _count(records, copied)


class CopyDerived(Stateless):
    """Stage 2; see the module docstring."""

    name = "reconciliation-derived"
    source = DERIVED_POSITIONS

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            event = decoded(self.codec, record, PositionChanged, batch, f"streams.{self.name}")
            if event is None or _paper(event):
                continue
            copied += 1
            batch.outputs.append(copy_to(record, FEED_TOPIC, event.account, event))
        _count(records, copied)


class ReconcilePositions:
    """Stage 3; see the module docstring."""

    name = "reconciliation"
    source = FEED_TOPIC
    changelog: str | None = STREAMS_RECONCILIATION_CHANGELOG

    def __init__(
        self,
        codec: Codec,
        grace: timedelta = timedelta(seconds=5),
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.codec = codec
        self.grace = grace
        self.clock = clock
        self.pairs: dict[int, dict[_Key, Pair]] = {}
        """Feed partition → account and instrument → both sides."""
        self.watched: dict[int, set[str]] = {}
        """Feed partition → the accounts NinjaTrader has reported a position of."""
        self.watermarks: dict[int, dict[str, datetime]] = {}
        """Feed partition → side (``reported``, ``derived``) → the latest event time read."""
        self._changed: dict[int, set[_Key]] = {}
        self._moved: set[int] = set()
        """Partitions whose watermarks the current batch moved."""

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> ReconcilePositions:
        return cls(codec, timedelta(milliseconds=settings.drift_grace_ms))

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        pairs: dict[_Key, Pair] = {}
        watermarks: dict[str, datetime] = {}
        for record in records:
            kind, _, rest = (record.key or b"").decode().partition("|")
            if kind == "pair":
                account, _, instrument = rest.partition("|")
                if record.value:
                    pairs[(account, instrument)] = pair_from_json(json.loads(record.value))
                else:
                    pairs.pop((account, instrument), None)
            elif kind == "watermark" and record.value:
                watermarks = {
                    side: datetime.fromisoformat(at)
                    for side, at in json.loads(record.value).items()
                }
        self.pairs[partition] = pairs
        self.watched[partition] = {a for (a, _), p in pairs.items() if p.reported is not None}
        self.watermarks[partition] = watermarks
        self._changed.pop(partition, None)
        self._moved.discard(partition)

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            for state in (self.pairs, self.watched, self.watermarks, self._changed):
                state.pop(partition, None)
            self._moved.discard(partition)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            try:
                event = self.codec.decode(record.value)
            except FillstreamError:
                decoded(self.codec, record, PositionUpdated, batch, _STAGE)  # its dead letter
                continue
            partition = record.partition
            pairs = self.pairs.setdefault(partition, {})
            match event:
                case PositionUpdated():
                    key, side = (event.account, event.instrument), "reported"
                    pair = pairs.get(key) or Pair(event.account, event.instrument)
                    pairs[key] = report(pair, event)
                    self.watched.setdefault(partition, set()).add(event.account)
                case PositionChanged():
                    key, side = (event.account, event.instrument), "derived"
                    pair = pairs.get(key) or Pair(event.account, event.instrument)
                    pairs[key] = derive(pair, event)
                case _:
                    decoded(self.codec, record, PositionUpdated, batch, _STAGE)  # wrong_schema
                    continue
            self._changed.setdefault(partition, set()).add(key)
            marks = self.watermarks.setdefault(partition, {})
            at = event.envelope.ts_event
            if side not in marks or at > marks[side]:
                marks[side] = at
                self._moved.add(partition)
        if records:
            metrics.EVENTS.labels(records[0].topic, "reconciled").inc(len(records))
        for partition in list(self.pairs):
            self._settle(partition, batch, None)
        self._finish(batch)

    def tick(self, batch: Batch, caught_up: frozenset[int]) -> None:
        clock = self.clock() if caught_up else None
        for partition in list(self.pairs):
            self._settle(partition, batch, clock if partition in caught_up else None)
        self._finish(batch)

    def _settle(self, partition: int, batch: Batch, clock: datetime | None) -> None:
        """Publish what has settled in ``partition``: in event time, or on ``clock`` (the
        partition read to its end)."""
        marks = self.watermarks.get(partition, {})
        now = min(marks.values()) if len(marks) == 2 else None
        watched = self.watched.get(partition, set())
        pairs = self.pairs[partition]
        for key, pair in pairs.items():
            if not pair.pending or key[0] not in watched:
                continue
            after, drift = settle(pair, self.grace, now, clock)
            if drift is None:
                continue
            pairs[key] = after
            self._changed.setdefault(partition, set()).add(key)
            batch.outputs.append(
                Output(
                    DRIFTS_TOPIC,
                    f"{drift.account}|{drift.instrument}".encode(),
                    self.codec.encode(drift),
                    record_headers(schema_name(drift), drift.envelope.event_id),
                )
            )
            metrics.EVENTS.labels(FEED_TOPIC, "resolved" if drift.resolved else "drift").inc()

    def _finish(self, batch: Batch) -> None:
        """Write each pair and watermark the batch changed, once."""
        for partition, keys in self._changed.items():
            pairs = self.pairs.get(partition, {})
            for key in sorted(keys):
                pair = pairs.get(key)
                batch.outputs.append(
                    Output(
                        self.changelog or "",
                        f"pair|{key[0]}|{key[1]}".encode(),
                        None if pair is None else json.dumps(pair_to_json(pair)).encode(),
                        partition=partition,
                    )
                )
        self._changed.clear()
        for partition in sorted(self._moved):
            marks = self.watermarks.get(partition, {})
            value = {side: at.isoformat() for side, at in sorted(marks.items())}
            batch.outputs.append(
                Output(
                    self.changelog or "",
                    b"watermark",
                    json.dumps(value).encode(),
                    partition=partition,
                )
            )
        self._moved.clear()


def _paper(event: PositionChanged) -> bool:
    return event.envelope.source is Source.PAPER or paper_account(event.account)


def _count(records: Sequence[Record], copied: int) -> None:
    if records:
        metrics.EVENTS.labels(records[0].topic, "copied").inc(copied)
        metrics.EVENTS.labels(records[0].topic, "passed").inc(len(records) - copied)
