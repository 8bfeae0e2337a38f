"""A transactional consume-transform-produce loop for the derivations that span partitions.

Each ``Deriver`` reads one source topic in a consumer group and hands every record to a
``Stage``. What the stage returns (derived events, dead letters, state changes for its
changelog) is produced in one Kafka transaction together with the consumed offsets, so each
batch takes effect exactly once: a crash before the commit aborts all of it, and the batch is
read again. A stage keeps its state in memory and writes every change to a compacted changelog
topic, on the partition of the record that caused it; on assignment it reads back the changelog
partitions matching its source partitions (``read_committed``, so aborted changes never count).

Why not Faust agents and tables: a Faust worker restarted after SIGKILL could stop receiving, or
skip, records around the rebalance (faust-streaming issues #216 and #221), which the walking
skeleton's kill test caught. Kafka transactions make the exactly-once effect a property of the
broker, and a batch per transaction is also what bulk replay needs.

A stage that holds records back (matching's grace window, waiting for market context) is
``Ticking``: after every poll, with or without records, its ``tick`` may release them, knowing
which source partitions are read to their end (``enable.partition.eof``). What it releases commits
like a batch.

The transactional id is stable per worker instance (namespace, stage, host and worker port, and
which of the worker's processes for the stage), so a restarted worker fences its predecessor and
aborts whatever it left open.

Every call into librdkafka that can block is bounded by the stage process's ``Watchdog``
(``core.watchdog``): librdkafka's own timeout plus ``_MARGIN``. A call that overruns it
ends the process, and the worker starts a fresh one. A session that fails with a Kafka error
(the broker gone, a transaction aborted) starts again from the last commit, after a pause that
grows while the failures go on. The deriver also notes when it last made progress (committed a
batch, restored state, or had read every partition it holds to its end), which the worker
reads to tell a stalled stage from an idle one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)

from core.backoff import Backoff
from core.control_log import VoidRanges, read_log
from core.errors import CodecError, ControlError
from core.kafka import admin_client, consume_batch, producer_config
from core.lag import LagGauge
from core.settings import Settings
from core.watchdog import Watchdog
from schemas.catalog import DEAD_LETTER, record_headers
from schemas.codec import Codec
from schemas.events import Event, InstrumentDefined, schema_name
from streams.errors import UnfinishedRewindError
from streams.runtime import metrics
from streams.runtime.store import Entry, LocalStore

log = logging.getLogger("fillstream.streams")

_ANY = -1
"""librdkafka's unassigned partition: the key chooses (the partitioner)."""

_STORE_CHUNK = 10_000
"""Changelog records read back on assignment that are written to the local store at once."""

BATCH_SIZE = 2000
"""Records consumed per transaction at most: a transaction's commit costs a round trip to the
broker, so a stage catching up commits few, large batches (live, a batch is what arrived)."""

_TIMEOUT = 30.0
"""librdkafka's timeout for the calls that wait on the broker (transactions, watermarks)."""

_MARGIN = 15.0
"""How much longer than its own timeout a call may take before the watchdog ends the process."""

_RETRY_MAX_SECONDS = 10.0
"""The longest pause between failed sessions (the first is 1 s, then twice the last)."""

T = TypeVar("T")

REWIND_MARKER = b"\x00fillstream.rewind"
"""The changelog key a stage rewind writes on each partition it rebuilds, and deletes when the
rebuilt state and the group's new offsets are committed: a stage whose changelog still holds it
refuses to start (its state is half rebuilt)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed record, as a stage sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce: ``topic`` is a catalog name; ``partition`` None lets the key
    choose."""

    topic: str
    key: bytes
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None


@dataclass(slots=True)
class Batch:
    """What one batch of records produces, in order."""

    outputs: list[Output] = field(default_factory=list)


class Stage(Protocol):
    name: str
    """Names the consumer group and the transactional id."""
    source: str
    """Catalog name of the topic read."""
    changelog: str | None
    """Catalog name of the compacted topic holding the state, or None for a stateless stage."""

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        """Rebuild the state of one source partition from its changelog records, oldest first."""

    def forget(self, partitions: Sequence[int]) -> None:
        """Drop the state of partitions no longer assigned."""

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        """Derive from ``records`` (one consumed batch), appending what to produce to ``batch``."""


class Stateless:
    """Base of a stage that keeps no state: nothing to restore or forget, no changelog."""

    changelog: str | None = None

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        pass

    def forget(self, partitions: Sequence[int]) -> None:
        pass


@runtime_checkable
class Ticking(Protocol):
    """A stage that holds records back (a grace window, a join waiting for its other side):
    ``tick`` runs after every poll, with or without records, and may release them."""

    def tick(self, batch: Batch, caught_up: frozenset[int]) -> None:
        """Append what is now due to ``batch``; ``caught_up`` holds the source partitions read
        to their end (their last poll reached the end, and nothing arrived since)."""


class Deriver:
    """Runs one stage until ``stop`` is set; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        stage: Stage,
        *,
        batch_size: int = BATCH_SIZE,
        instance: int = 0,
        watchdog: Watchdog | None = None,
    ) -> None:
        """``instance`` tells apart the worker's processes that run the same stage;
        ``watchdog`` bounds its calls into librdkafka (one that is not started only names
        them)."""
        self.settings = settings
        self.stage = stage
        self.batch_size = batch_size
        self.group = settings.group(f"streams.{stage.name}")
        self.source = settings.topic(stage.source)
        self.transactional_id = f"{self.group}.{socket.gethostname()}:{settings.worker_port}"
        if instance:
            self.transactional_id += f"/{instance}"
        self.assigned = False
        self.partitions: set[int] = set()
        """The source partitions this deriver holds."""
        self.progressed_at = time.monotonic()
        """When the deriver last committed a batch, restored state, or held only partitions
        read to their end (nothing waiting for it)."""
        self.watchdog = watchdog or Watchdog(f"streams.{stage.name}")
        self.caught_up: set[int] = set()
        """Source partitions whose last poll reached their end, with nothing read since."""
        self.store: LocalStore | None = None
        if stage.changelog is not None and settings.local_state:
            self.store = LocalStore(settings.home / "state" / self.group)
        self._delivered: dict[int, list[Entry]] = {}
        """Changelog partition → the records of the current transaction acknowledged there."""
        self._changelog_id: str | None = None
        """``<topic>@<topic id>``: a store written for a recreated changelog is not used."""
        self.void = VoidRanges()
        """What rolled-back phases voided of the source: skipped (read at each session's start)."""

    def run(self, stop: threading.Event) -> None:
        """Process until ``stop``; a failed transaction restarts from the committed offsets
        with the state read back from the changelog."""
        backoff = Backoff(_RETRY_MAX_SECONDS)
        while not stop.is_set():
            started = time.monotonic()
            try:
                self._session(stop)
            except (KafkaException, ControlError) as e:
                self.assigned = False
                self.partitions.clear()
                pause = backoff.after(time.monotonic() - started)
                log.error(
                    "%s: %s; restarting from the last commit in %g s", self.stage.name, e, pause
                )
                metrics.DERIVER_RESTARTS.labels(self.stage.name).inc()
                stop.wait(pause)

    def _session(self, stop: threading.Event) -> None:
        servers = self.settings.bootstrap_servers
        producer = Producer(
            {
                **producer_config(self.settings),
                "transactional.id": self.transactional_id,
                "transaction.timeout.ms": 30000,
            }
        )
        bounded = self.watchdog.bounded
        with bounded("init_transactions", _TIMEOUT + _MARGIN):
            producer.init_transactions(_TIMEOUT)
        consumer = Consumer(
            {
                "bootstrap.servers": servers,
                "group.id": self.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": 10000,
                "enable.partition.eof": True,
            }
        )
        consumer.subscribe([self.source], on_assign=self._on_assign, on_revoke=self._on_revoke)
        with bounded("read the control log", _TIMEOUT + _MARGIN):
            self.void = read_log(self.settings).void(self.settings).of([self.source])
        log.info("%s reading %s", self.stage.name, self.source)
        lag = LagGauge(self.group)
        try:
            while not stop.is_set():
                with bounded("consume", 1.0 + _MARGIN):
                    messages = consume_batch(consumer, self.batch_size, 0.2)
                records = self._unvoided([r for r in map(self._record, messages) if r is not None])
                if messages or isinstance(self.stage, Ticking):
                    self._transact(producer, consumer, records, moved=bool(messages))
                lag.observe(consumer)
                if self.assigned and self.caught_up >= self.partitions:
                    self.progressed_at = time.monotonic()
        finally:
            with bounded("close the consumer", _TIMEOUT + _MARGIN):
                consumer.close()
            with bounded("flush the producer", 10 + _MARGIN):
                producer.flush(10)
            if self.store is not None:
                self.store.close()

    def _unvoided(self, records: list[Record]) -> list[Record]:
        """``records`` without those a rolled-back phase voided (``core.control_log``)."""
        if not self.void:
            return records
        kept = [r for r in records if not self.void.contains(r.topic, r.partition, r.offset)]
        if len(kept) < len(records):
            metrics.EVENTS.labels(self.source, "void").inc(len(records) - len(kept))
        return kept

    def _transact(
        self, producer: Producer, consumer: Consumer, records: list[Record], *, moved: bool = False
    ) -> None:
        """Derive from ``records`` and commit what they produce with the consumed offsets;
        ``moved``: records were consumed (perhaps all skipped), so commit the offsets even
        when nothing is produced."""
        name = self.stage.name
        started = time.perf_counter()
        batch = Batch()
        if records:
            self.stage.process(records, batch)
        if isinstance(self.stage, Ticking):
            self.stage.tick(batch, frozenset(self.caught_up))
        if not records and not batch.outputs and not moved:
            return
        produced = time.perf_counter()
        metrics.BATCH_RECORDS.labels(name).observe(len(records))
        metrics.PROCESS_SECONDS.labels(name).observe(produced - started)
        producer.begin_transaction()
        self._delivered = {}
        stored = 0
        try:
            for n, out in enumerate(batch.outputs, 1):
                topic = self.settings.topic(out.topic)
                headers: list[tuple[str, str | bytes | None]] = list(out.headers)
                on_delivery = None
                if self.store is not None and out.topic == self.stage.changelog:
                    stored += 1
                    on_delivery = self._on_delivery  # its offset goes to the local store
                producer.produce(
                    topic,
                    key=out.key,
                    value=out.value,
                    headers=headers,
                    partition=_ANY if out.partition is None else out.partition,
                    on_delivery=on_delivery,
                )
                if n % 1000 == 0:
                    producer.poll(0)  # serve delivery reports now and then, not per record
            positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
            group = consumer.consumer_group_metadata()
            with self.watchdog.bounded("send_offsets_to_transaction", _TIMEOUT + _MARGIN):
                producer.send_offsets_to_transaction(positions, group, _TIMEOUT)
            with self.watchdog.bounded("commit_transaction", _TIMEOUT + _MARGIN):
                producer.commit_transaction(_TIMEOUT)
            metrics.COMMIT_SECONDS.labels(name).observe(time.perf_counter() - produced)
        except BaseException:
            try:
                with self.watchdog.bounded("abort_transaction", _TIMEOUT + _MARGIN):
                    producer.abort_transaction(_TIMEOUT)
            finally:
                raise  # the stage's state now holds the aborted batch: restart the session
        self.progressed_at = time.monotonic()
        if stored:
            self._store_delivered(producer, stored)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        partition, offset = message.partition(), message.offset()
        if error is None and partition is not None and offset is not None and offset >= 0:
            entry = (message.key() or b"", offset, message.value() or b"")
            self._delivered.setdefault(partition, []).append(entry)

    def _store_delivered(self, producer: Producer, expected: int) -> None:
        """Apply the committed transaction's changelog records to the local store; a
        partition whose acknowledgements are not all in is forgotten there instead (the store
        must never skip a record)."""
        assert self.store is not None
        producer.poll(0)  # the commit has them acknowledged: serve what is left of the reports
        topic = self._changelog_id
        if topic is None:  # unknown identity: the store is left as it is, a prefix still
            self._delivered = {}
            return
        if sum(map(len, self._delivered.values())) != expected:
            for partition in self._delivered:
                self.store.clear(partition)
            log.warning("%s: changelog acknowledgements missing; local state reset", topic)
        else:
            for partition, entries in self._delivered.items():
                entries.sort(key=_offset)
                self.store.apply(partition, topic, entries, entries[-1][1] + 1)
        self._delivered = {}

    def _record(self, message: Message) -> Record | None:
        """The record of a polled message; an end-of-partition event marks its partition
        caught up, a record marks it behind."""
        error = message.error()
        if error is not None and error.code() == KafkaError._PARTITION_EOF:
            partition = message.partition()
            if partition is not None:
                self.caught_up.add(partition)
            return None
        record = _record(message)
        if record is not None:
            self.caught_up.discard(record.partition)
        return record

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.caught_up.difference_update(tp.partition for tp in partitions)
        self.partitions.update(tp.partition for tp in partitions)
        if self.stage.changelog is not None:
            for tp in partitions:
                marked: list[bool] = []
                records = _unmarked(self._changelog(tp.partition), marked)
                self.stage.restore(tp.partition, compacted(records))
                if marked and marked[-1]:
                    raise UnfinishedRewindError(
                        f"{self.group}: a rewind of this stage did not finish on partition"
                        f" {tp.partition} of {self.source}; run `fillstream offsets rewind` again"
                    )
        self.assigned = True
        log.info(
            "%s assigned %s", self.stage.name, ", ".join(str(tp.partition) for tp in partitions)
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned = False
        self.caught_up.difference_update(tp.partition for tp in partitions)
        self.partitions.difference_update(tp.partition for tp in partitions)
        self.stage.forget([tp.partition for tp in partitions])

    def _changelog(self, partition: int) -> Iterable[Record]:
        """The committed records of one changelog partition, oldest first: what the local
        store holds of it, then the records written since."""
        assert self.stage.changelog is not None
        topic = self.settings.topic(self.stage.changelog)
        reader = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": f"{self.group}.restore",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        store, name = self.store, self.stage.name
        if store is not None and self._changelog_id is None:
            self._changelog_id = self._identity(topic)
        identity = self._changelog_id
        remaining = metrics.RECOVERY_REMAINING.labels(name)
        bounded = self.watchdog.bounded
        try:
            with bounded("get_watermark_offsets", _TIMEOUT + _MARGIN):
                low, high = reader.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=_TIMEOUT
                )
            start = low
            if store is not None and identity is not None:
                local, start = store.load(partition, identity, low, high)
                metrics.RESTORED.labels(name, "local").inc(len(local))
                for key, offset, value in local:
                    yield Record(topic, partition, offset, key, value)
            remaining.set(max(0, high - start))
            if start >= high:
                return
            reader.assign([TopicPartition(topic, partition, start)])
            tail: list[Entry] = []
            ended = False
            quiet_since = time.monotonic()
            while not ended:
                with bounded("poll the changelog", 5.0 + _MARGIN):
                    message = reader.poll(5.0)
                if message is None:
                    if time.monotonic() - quiet_since > _TIMEOUT:
                        raise KafkaException(
                            KafkaError(
                                KafkaError._TIMED_OUT,
                                f"{topic} [{partition}] sent nothing for {_TIMEOUT:g} s while"
                                " restoring",
                            )
                        )
                    continue
                quiet_since = time.monotonic()
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                ended = error is not None
                record = None if ended else _record(message)
                if record is not None:
                    tail.append((record.key or b"", record.offset, record.value))
                    if len(tail) % 1000 == 0:
                        remaining.set(max(0, high - record.offset - 1))
                        self.progressed_at = time.monotonic()
                    yield record
                if tail and (ended or len(tail) >= _STORE_CHUNK):
                    metrics.RESTORED.labels(name, "changelog").inc(len(tail))
                    if store is not None and identity is not None:
                        store.apply(partition, identity, tail, tail[-1][1] + 1)
                    tail = []
        finally:
            remaining.set(0)
            with bounded("close the changelog reader", _TIMEOUT + _MARGIN):
                reader.close()

    def replay(
        self,
        targets: Mapping[int, int],
        *,
        progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Rewind this stage to ``targets`` (source partition → offset) with its state as it
        was there; the worker must be stopped. The state of those partitions is rebuilt from the
        beginning of the source: their changelog partitions are emptied (tombstones) and
        marked, every source record before its target is fed to the stage again with only its
        state changes kept (what it derived is already in the log), and the last transaction
        removes the marks and commits the group's offsets at the targets. Interrupted, the marks
        stay (the stage refuses to start) until the rewind is run again. Returns the records
        replayed."""
        assert self.stage.changelog is not None, "a stateless stage needs no replay"
        changelog = self.settings.topic(self.stage.changelog)
        producer = Producer({**producer_config(self.settings),
                             "transactional.id": f"{self.group}.rewind",
                             "transaction.timeout.ms": 60000})  # fmt: skip
        producer.init_transactions(30)
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.group,
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        partitions = sorted(targets)
        self.void = read_log(self.settings).void(self.settings).of([self.source])
        try:
            producer.begin_transaction()
            for p in partitions:
                for live in compacted(self._changelog(p)):  # what a restore would read
                    producer.produce(changelog, key=live.key, value=None, partition=p)
                producer.produce(changelog, key=REWIND_MARKER, value=b"1", partition=p)
            producer.commit_transaction(60)
            self.stage.forget(partitions)
            for p in partitions:
                self.stage.restore(p, [])
            lows = {
                p: consumer.get_watermark_offsets(TopicPartition(self.source, p), timeout=30)[0]
                for p in partitions
            }
            remaining = {p: t for p, t in targets.items() if t > lows[p]}
            total = sum(t - lows[p] for p, t in remaining.items())
            done = 0
            consumer.assign([TopicPartition(self.source, p, lows[p]) for p in remaining])
            while remaining:
                if stop is not None and stop.is_set():
                    raise UnfinishedRewindError(f"{self.group}: interrupted; run the rewind again")
                records: list[Record] = []
                for message in consumer.consume(self.batch_size, timeout=0.5):
                    p = message.partition() or 0
                    target = remaining.get(p)
                    if target is None:
                        continue
                    error, offset = message.error(), message.offset() or 0
                    if error is not None and error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    if error is None and offset < target:
                        record = _record(message)
                        if record is not None:
                            records.append(record)
                    if (offset if error is not None else offset + 1) >= target:
                        del remaining[p]
                        consumer.pause([TopicPartition(self.source, p)])
                batch = Batch()
                done += len(records)
                records = self._unvoided(records)
                if records:
                    self.stage.process(records, batch)
                if isinstance(self.stage, Ticking):
                    self.stage.tick(batch, frozenset())
                state = [o for o in batch.outputs if o.topic == self.stage.changelog]
                if state:
                    producer.begin_transaction()
                    for out in state:
                        where = _ANY if out.partition is None else out.partition
                        producer.produce(changelog, key=out.key, value=out.value, partition=where)
                    producer.commit_transaction(60)
                if progress is not None:
                    progress(done, total)
            producer.begin_transaction()
            for p in partitions:
                producer.produce(changelog, key=REWIND_MARKER, value=None, partition=p)
            producer.send_offsets_to_transaction(
                [TopicPartition(self.source, p, targets[p]) for p in partitions],
                consumer.consumer_group_metadata(),
                30,
            )
            producer.commit_transaction(60)
            if self.store is not None:
                for p in partitions:
                    self.store.clear(p)
            return done
        finally:
            consumer.close()
            producer.flush(10)
            if self.store is not None:
                self.store.close()

    def _identity(self, topic: str) -> str | None:
        """``<topic>@<its topic id>``, or None (no local store this session) if the broker
        will not say."""
        admin = admin_client(self.settings)
        try:
            future = admin.describe_topics(TopicCollection([topic]), request_timeout=_TIMEOUT)[
                topic
            ]
            return f"{topic}@{future.result(_TIMEOUT).topic_id}"
        except Exception as e:  # noqa: BLE001 - the changelog alone still restores everything
            log.warning("%s: no topic id (%s); the local state store is not used", topic, e)
            return None


def compacted(records: Iterable[Record]) -> list[Record]:
    """What compaction would leave of changelog ``records``: the last record of each key unless
    it is a tombstone, in offset order. (A rewind writes tombstones that a stage's ``restore``
    must honour before the broker compacts them away.)"""
    last: dict[bytes | None, Record] = {}
    for record in records:
        last[record.key] = record
    return sorted((r for r in last.values() if r.value), key=lambda r: r.offset)


def _unmarked(records: Iterable[Record], marked: list[bool]) -> Iterator[Record]:
    """``records`` without the rewind marker; whether it was set is appended to ``marked`` as
    it is read (the last counts)."""
    for record in records:
        if record.key == REWIND_MARKER:
            marked.append(bool(record.value))
        else:
            yield record


def _offset(entry: Entry) -> int:
    return entry[1]


def decoded(codec: Codec, record: Record, kind: type[T], batch: Batch, stage: str) -> T | None:
    """``record``'s event if it decodes to a ``kind``; else None, and its dead letter in
    ``batch`` (code ``undecodable`` or ``wrong_schema``)."""
    try:
        event = codec.decode(record.value)
    except CodecError as e:
        batch.outputs.append(dead_letter(record, str(e), "undecodable", stage))
        return None
    if not isinstance(event, kind):
        reason = f"expected {kind.__name__}, got {schema_name(event)}"
        batch.outputs.append(dead_letter(record, reason, "wrong_schema", stage))
        return None
    return event


def copy_to(record: Record, feed: str, key: str, event: Event) -> Output:
    """``record`` unchanged, keyed by ``key``, to ``feed`` (a stage re-keying what another
    reads), with ``event``'s schema and id headers."""
    headers = record_headers(schema_name(event), event.envelope.event_id)
    return Output(feed, key.encode(), record.value, headers)


def to_every_partition(
    record: Record, definition: InstrumentDefined, feed: str, partitions: int
) -> list[Output]:
    """A contract definition's record, unchanged and keyed by its root, to each of the
    ``partitions`` of ``feed``: every partition of a stage that values trades needs it."""
    headers = record_headers(schema_name(definition), definition.envelope.event_id)
    return [
        Output(feed, definition.root.encode(), record.value, headers, partition)
        for partition in range(partitions)
    ]


def dead_letter(record: Record, reason: str, code: str, stage: str) -> Output:
    """The dead-letter record of ``record``: unchanged, with why in its headers."""
    metrics.DEAD_LETTERS.labels(code).inc()
    metrics.EVENTS.labels(record.topic, "dead_letter").inc()
    return Output(
        DEAD_LETTER,
        record.key or b"",
        record.value,
        (
            ("reason", reason.encode()),
            ("code", code.encode()),
            ("origin", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ("stage", stage.encode()),
        ),
    )


def _record(message: Message) -> Record | None:
    error = message.error()
    if error is not None:
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", error)
        return None
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return Record(topic, partition, offset, message.key(), message.value() or b"")
