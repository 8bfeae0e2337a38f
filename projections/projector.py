"""The projector loop: consume a projection's topics in batches and write rows and offsets in one
PostgreSQL transaction, so duplicates, restarts and rewinds never double a row. A batch's rows
are copied (``COPY``) into a session-local staging table, then inserted from it with the
projection's conflict rule, in one statement. An append-only projection (no ``newer_by``: a row
is never replaced) first tries to copy the batch straight into its table, which costs half as
much; a key already there makes that copy fail, and the batch goes the staging way instead (and
so do the following batches until one meets no key already there).

A projection whose rows are cells of one event type (``Projection.row``) has its payloads read
straight into rows by a generated reader (``schemas.reader.compile_row_reader``), decimals
already trimmed and arrays already PostgreSQL literals; a payload that reader cannot read (an
older schema version, damage) is decoded and made into rows by ``to_rows``, with the same
result.

The database, not Kafka, holds the authoritative offsets (``projection_offsets``); Kafka's
committed offsets are also updated after each batch so consumer lag stays visible.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from prometheus_client import Counter, Histogram
from psycopg import sql

from core.control_log import VoidRanges, read_log
from core.database import connect
from core.errors import CodecError
from core.kafka import consume_batch
from core.lag import LagGauge
from core.settings import Settings
from core.watchdog import Watchdog
from projections import versions
from projections.errors import CatchUpStalledError, WriterBusyError
from projections.projection import Location, Projection
from schemas.catalog import DEAD_LETTER
from schemas.codec import Codec
from schemas.reader import CellForms

log = logging.getLogger("fillstream.projector")

EVENTS = Counter(
    "fillstream_projector_events_total",
    "Events consumed, by projection and outcome.",
    ["projection", "outcome"],
)
ROWS = Counter(
    "fillstream_projector_rows_written_total",
    "Rows inserted (duplicates excluded).",
    ["projection"],
)
BATCH_SECONDS = Histogram(
    "fillstream_projector_batch_seconds", "Time to write one batch.", ["projection"]
)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
LATENCY = Histogram(
    "fillstream_projector_ingest_to_projected_seconds",
    "From the bridge recording an event to its derived row being committed.",
    ["projection"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_LATENCY = Histogram(
    "fillstream_projector_event_to_projected_seconds",
    "From an event happening (its ts_event) to its row being committed. Events NinjaTrader "
    "sends late (after a reconnect) add their delay, and imported history lands in the top "
    "buckets: for the pipeline's own latency, watch "
    "fillstream_projector_ingest_to_projected_seconds.",
    ["projection"],
    buckets=(*_LATENCY_BUCKETS, 86400),
)

_TIMES = ("envelope.ts_ingested", "envelope.ts_event")
"""The cells a live projector reads beside a row's own, for its latency histograms."""


KAFKA_COMMIT_SECONDS = 1.0
"""How often a projector tells Kafka how far it has projected (PostgreSQL holds the truth)."""

LIVE_CHECK_SECONDS = 2.0
"""How often a service projector asks whether its version still serves the view."""


TRIMMED_KEPT = 65536
"""Numbers a projector keeps trimmed, by value (prices on a tick grid and fees repeat)."""

STALL_SECONDS = 120.0
"""How long a bounded run waits for a partition to move towards its target."""


class Projector:
    """Runs one projection version until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        projection: Projection,
        codec: Codec,
        *,
        batch_size: int = 500,
        watchdog: Watchdog | None = None,
    ) -> None:
        """``watchdog`` bounds the calls into librdkafka that can block (one that is not
        started only names them)."""
        self.settings = settings
        self.watchdog = watchdog or Watchdog("projector")
        self.projection = projection
        self.codec = codec
        self.batch_size = batch_size
        self.topics = [settings.topic(t) for t in projection.topics]
        self._table = sql.Identifier(projection.table)
        self._columns = sql.SQL(", ").join(map(sql.Identifier, projection.columns))
        self._key = sql.SQL(", ").join(map(sql.Identifier, projection.key))
        self._staging = sql.Identifier(f"{projection.table}_staging")
        self._staging_ready = False
        self._numeric_at: tuple[int, ...] | None = None
        """Positions of the table's numeric columns in a row (asked once)."""
        self._read_row: Callable[[bytes, str, int, int], tuple[Any, ...] | None] | None = None
        """Reads a payload straight into its row, when the projection has a row spec; while
        latency is observed, the row's cells are followed by those of ``_TIMES`` it lacks."""
        self._width = len(projection.columns)
        self._ingested_at = self._happened_at = 0
        """Where the row reader's rows hold the ingest and event times (latency observed)."""
        self._trimmed: dict[Decimal, Decimal] = {}
        self._direct = projection.newer_by is None
        """Whether the next batch is copied straight into the table."""
        self._partitioned: bool | None = None
        """Whether the version's table is partitioned (asked once)."""
        self._months: set[date] = set()
        """Months whose partition this projector has made sure of."""
        self._on_conflict = _on_conflict(projection, self._table)
        self._conn: psycopg.Connection[Any] | None = None
        self._dead_letters: Producer | None = None
        self._to_commit: dict[tuple[str, int], int] = {}
        """Offsets written to PostgreSQL and not yet committed to Kafka (for information)."""
        self._committed_at = 0.0
        self._observe_latency = True
        self._void = VoidRanges()
        """What rolled-back phases voided of the topics: skipped (read when a run starts)."""

    def run(self, stop: threading.Event, *, still_live: Callable[[], bool] | None = None) -> None:
        """Project until ``stop`` is set, or until ``still_live`` (asked every few seconds)
        says this version no longer serves its view."""
        self._conn = self._connect()
        self._void = read_log(self.settings).void(self.settings).of(self.topics)
        try:
            if not self._wait_for_writer_lock(stop, still_live):
                return
            consumer = self._consumer()
            consumer.subscribe(self.topics, on_assign=self._on_assign)
            log.info("projection %s reading %s", self.projection.table, ", ".join(self.topics))
            asked = time.monotonic()
            lag = LagGauge(self.settings.group(self.projection.group))
            try:
                while not stop.is_set():
                    if still_live is not None and time.monotonic() - asked >= LIVE_CHECK_SECONDS:
                        asked = time.monotonic()
                        if not still_live():
                            log.info("%s no longer serves its view", self.projection.table)
                            return
                    if self.projection.linger:
                        messages = consumer.consume(self.batch_size, timeout=self.projection.linger)
                    else:
                        messages = consume_batch(consumer, self.batch_size, 0.5)
                    if messages:
                        try:
                            self._write(messages)
                        except psycopg.errors.UndefinedTable:
                            if still_live is not None and not still_live():
                                log.info("%s was dropped; stopping", self.projection.table)
                                return
                            raise
                    self._commit_to_kafka(consumer)
                    lag.observe(consumer)
            finally:
                self._commit_to_kafka(consumer, force=True)
                with self.watchdog.bounded(f"close the {self.projection.table} consumer", 45):
                    consumer.close()
                lag.forget()
        finally:
            self._conn.close()
            if self._dead_letters is not None:
                self._dead_letters.flush(10)

    def catch_up(
        self,
        targets: Mapping[tuple[str, int], int],
        *,
        progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        lock: bool = True,
    ) -> None:
        """Project every partition of ``targets`` from its stored offset up to (not including)
        its target offset, then return: a rebuild's bounded run. ``progress(done, total)`` is
        called after each batch, in records. Takes this version's writer lock for the run,
        unless ``lock`` is False (the process that shares the run out holds it)."""
        self._conn = self._connect()
        self._observe_latency = False  # a replay's ages say nothing of the live path
        self._void = read_log(self.settings).void(self.settings).of(self.topics)
        try:
            table = self.projection.table
            if lock and not versions.try_writer_lock(self._conn, self.settings, table):
                raise WriterBusyError(f"another process is writing {table}")
            stored = self._stored_offsets()
            remaining = {tp: t for tp, t in targets.items() if stored.get(tp, 0) < t}
            total = sum(t - stored.get(tp, 0) for tp, t in remaining.items())
            done = 0
            if progress is not None:
                progress(done, total)
            if not remaining:
                return
            consumer = self._consumer(eof=True)
            consumer.assign(
                [TopicPartition(t, p, stored.get((t, p), OFFSET_BEGINNING)) for t, p in remaining]
            )
            start = {tp: stored.get(tp, 0) for tp in remaining}
            position = dict(start)
            moved_at = time.monotonic()
            try:
                while remaining and not (stop is not None and stop.is_set()):
                    batch: list[Message] = []
                    for message in consumer.consume(self.batch_size, timeout=0.5):
                        tp = (message.topic() or "", message.partition() or 0)
                        target = remaining.get(tp)
                        if target is None:  # reached earlier in this batch
                            continue
                        error, offset = message.error(), message.offset() or 0
                        if error is None:
                            if offset < target:
                                batch.append(message)
                            reached = min(offset + 1, target)
                        elif error.code() == KafkaError._PARTITION_EOF:
                            reached = min(offset, target)  # the end so far; may grow
                        else:
                            raise KafkaException(error)
                        if reached > position[tp]:
                            position[tp], moved_at = reached, time.monotonic()
                        if reached >= target:
                            del remaining[tp]
                            consumer.pause([TopicPartition(*tp)])
                    if batch:
                        self._write(batch)
                    if progress is not None:
                        progress(sum(position[tp] - start[tp] for tp in start), total)
                    if remaining and time.monotonic() - moved_at > STALL_SECONDS:
                        stuck = ", ".join(f"{t}[{p}] at {position[(t, p)]} of {o}"
                                          for (t, p), o in remaining.items())  # fmt: skip
                        raise CatchUpStalledError(f"no progress for {STALL_SECONDS:.0f} s: {stuck}")
            finally:
                consumer.close()
        finally:
            self._conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = connect(self.settings)
        # Rows and their offsets commit together, so a PostgreSQL crash that loses the last
        # commits loses both, and the projector projects those records again: no need to wait
        # for each commit's WAL flush (it would add a disk flush to every batch's latency).
        conn.execute("SET synchronous_commit = off")
        conn.commit()
        self._staging_ready = False
        return conn

    def _consumer(self, *, eof: bool = False) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.settings.group(self.projection.group),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": 10000,
                "enable.partition.eof": eof,
            }
        )

    def _wait_for_writer_lock(
        self, stop: threading.Event, still_live: Callable[[], bool] | None
    ) -> bool:
        """Wait until this process is the one writer of the version (a rebuild may be bringing
        it up to date); False when told to stop first."""
        assert self._conn is not None
        told = False
        while not versions.try_writer_lock(self._conn, self.settings, self.projection.table):
            if not told:
                log.info("another process is writing %s; waiting", self.projection.table)
                told = True
            if stop.wait(1.0) or (still_live is not None and not still_live()):
                return False
        return True

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self._stored_offsets()
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        log.info(
            "assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions)
        )

    def _stored_offsets(self) -> dict[tuple[str, int], int]:
        assert self._conn is not None
        with self._conn.transaction():
            return versions.stored_offsets(
                self._conn, self.projection.name, self.projection.version
            )

    def _write(self, messages: Sequence[Message]) -> None:
        assert self._conn is not None
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = []
        next_offsets: dict[tuple[str, int], int] = {}
        ingested: list[datetime] = []
        happened: list[datetime] = []
        counts: collections.Counter[str] = collections.Counter()
        name = self.projection.name
        if self._numeric_at is None:
            self._prepare()
        read_row, observe = self._read_row, self._observe_latency
        width, ingested_at, happened_at = self._width, self._ingested_at, self._happened_at
        if self.projection.latest_per_key:
            latest = _latest_per_key(messages, self._void)
        elif self.projection.supersedes_header is not None:
            latest = _newest_by_header(messages, self._void, self.projection.supersedes_header)
        else:
            latest = None
        for n, message in enumerate(messages):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            where = _location(message)
            next_offsets[(where.topic, where.partition)] = where.offset + 1
            if self._void and self._void.contains(*where):
                counts["void"] += 1
                continue
            if latest is not None and n not in latest:
                counts["superseded"] += 1
                continue
            if read_row is not None:
                row = read_row(message.value() or b"", *where)
                if row is not None:
                    counts["projected"] += 1
                    if observe:
                        ingested.append(row[ingested_at])
                        happened.append(row[happened_at])
                        if len(row) > width:
                            row = row[:width]
                    rows.append(row)
                    continue
            try:
                event = self.codec.decode(message.value() or b"")
            except CodecError as e:
                self._dead_letter(message, f"undecodable: {e}")
                counts["dead_letter"] += 1
                continue
            new_rows = self._trim(self.projection.to_rows(event, where))
            rows.extend(new_rows)
            counts["projected" if new_rows else "ignored"] += 1
            if new_rows and observe:
                ingested.append(event.envelope.ts_ingested)
                happened.append(event.envelope.ts_event)
        for outcome, count in counts.items():
            EVENTS.labels(name, outcome).inc(count)
        if not next_offsets:
            return
        if rows and self.projection.partition_by is not None:
            self._ensure_partitions(rows)
        with self._conn.transaction():
            inserted = self._insert_rows(rows)
            self._conn.cursor().executemany(
                "INSERT INTO projection_offsets"
                " (projection, version, topic, partition, next_offset)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (projection, version, topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [(name, self.projection.version, t, p, o) for (t, p), o in next_offsets.items()],
            )
        ROWS.labels(name).inc(inserted)
        BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
        now = datetime.now(UTC)
        _observe_ages(LATENCY.labels(name), now, ingested)
        _observe_ages(EVENT_LATENCY.labels(name), now, happened)
        self._to_commit.update(next_offsets)

    def _commit_to_kafka(self, consumer: Consumer, *, force: bool = False) -> None:
        """Commit the offsets written to PostgreSQL to Kafka too, at most once every
        ``KAFKA_COMMIT_SECONDS`` (they are for information: lag in ``fillstream status``)."""
        now = time.monotonic()
        if not self._to_commit or (not force and now - self._committed_at < KAFKA_COMMIT_SECONDS):
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._to_commit.items()]
        self._to_commit, self._committed_at = {}, now
        try:
            if force:  # the last: wait for it
                with self.watchdog.bounded("commit offsets", 45):
                    consumer.commit(offsets=offsets, asynchronous=False)
            else:
                consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as e:  # informational only: PostgreSQL holds the real offsets
            log.warning("could not commit offsets to Kafka: %s", e)

    def _ensure_partitions(self, rows: list[tuple[Any, ...]]) -> None:
        """Create the month partitions ``rows`` need, each in a short transaction of its own
        before the batch's (one creation at a time per table: processes sharing a rebuild
        would otherwise deadlock creating the same month)."""
        assert self._conn is not None and self.projection.partition_by is not None
        if self._partitioned is None:
            with self._conn.transaction():
                self._partitioned = partitioned(self._conn, self.projection.table)
        if not self._partitioned:
            return
        at = self.projection.columns.index(self.projection.partition_by)
        for month in {month_of(row[at]) for row in rows} - self._months:
            with self._conn.transaction():
                self._conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"partitions:{self.settings.namespace}.{self.projection.table}",),
                )
                ensure_partition(self._conn, self.projection.table, month)
            self._months.add(month)

    def _insert_rows(self, rows: list[tuple[Any, ...]]) -> int:
        assert self._conn is not None
        if self.projection.newer_by is not None:
            rows = self._newest_per_key(rows)
        if not rows:
            return 0
        cursor = self._conn.cursor()
        if self._direct:
            try:
                with self._conn.transaction():  # a savepoint
                    self._copy(cursor, self._table, rows)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                self._direct = False
        if not self._staging_ready:
            # a session's staging table, emptied by every commit
            self._conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)"
                    " ON COMMIT DELETE ROWS"
                ).format(self._staging, self._table)
            )
            self._staging_ready = True
        self._copy(cursor, self._staging, rows)
        cursor.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
                self._table,
                self._columns,
                self._columns,
                self._staging,
                self._key,
                self._on_conflict,
            )
        )
        inserted = max(cursor.rowcount, 0)
        if self.projection.newer_by is None and inserted == len(rows):
            self._direct = True  # no key was there: back to the straight copy
        return inserted

    def _copy(
        self, cursor: psycopg.Cursor[Any], table: sql.Identifier, rows: list[tuple[Any, ...]]
    ) -> None:
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(table, self._columns)
        with cursor.copy(copy) as writer:
            for row in rows:
                writer.write_row(row)

    def _prepare(self) -> None:
        """Ask which columns are numbers and which arrays of text, and generate the row reader
        if the projection has a row spec (and the codec generates them)."""
        assert self._conn is not None
        with self._conn.transaction():
            kinds = _column_kinds(self._conn, self.projection)
        self._numeric_at = tuple(n for n, kind in enumerate(kinds) if kind == "numeric")
        spec, row_reader = self.projection.row, getattr(self.codec, "row_reader", None)
        if spec is None or row_reader is None:
            return
        forms = CellForms(
            trim=trim_scale,
            trimmed=frozenset(self._numeric_at),
            literal=frozenset(n for n, kind in enumerate(kinds) if kind == "text[]"),
        )
        cells = spec.cell_names
        if self._observe_latency:  # a rebuild reads the row's cells alone
            cells += tuple(c for c in _TIMES if c not in cells)
            self._ingested_at, self._happened_at = (cells.index(c) for c in _TIMES)
        self._read_row = row_reader(spec.event, cells, forms)

    def _trim(self, rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
        """``rows`` with their numbers written without the trailing zeros of Avro's fixed
        scale (21000.2500000000 → 21000.25), as PostgreSQL's ``trim_scale`` would."""
        at = self._numeric_at
        if not at:
            return rows
        trimmed = self._trimmed
        if len(trimmed) > TRIMMED_KEPT:
            trimmed.clear()
        result = []
        for row in rows:
            cells = list(row)
            for i in at:
                value = cells[i]
                if type(value) is Decimal:
                    short = trimmed.get(value)
                    if short is None:
                        short = trimmed[value] = trim_scale(value)
                    cells[i] = short
            result.append(tuple(cells))
        return result

    def _newest_per_key(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """One row per key, the one with the largest ``newer_by`` (the last of equals): one
        INSERT may not update a row twice."""
        columns = self.projection.columns
        key_at = [columns.index(c) for c in self.projection.key]
        newer_at = columns.index(self.projection.newer_by or "")
        newest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in rows:
            key = tuple(row[i] for i in key_at)
            kept = newest.get(key)
            if kept is None or row[newer_at] >= kept[newer_at]:
                newest[key] = row
        return list(newest.values())

    def _dead_letter(self, message: Message, reason: str) -> None:
        if self._dead_letters is None:
            self._dead_letters = Producer(
                {"bootstrap.servers": self.settings.bootstrap_servers, "acks": "all"}
            )
        log.error(
            "dead-lettering %s[%d]@%d: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            reason,
        )
        self._dead_letters.produce(
            self.settings.topic(DEAD_LETTER),
            key=message.key(),
            value=message.value(),
            headers={
                "reason": reason.encode(),
                "origin": f"{message.topic()}/{message.partition()}/{message.offset()}".encode(),
                "stage": f"projection.{self.projection.table}".encode(),
            },
        )
        self._dead_letters.flush(10)


def _observe_ages(histogram: Histogram, now: datetime, moments: Sequence[datetime]) -> None:
    """Observe how long before ``now`` each of ``moments`` was (0 for those after it)."""
    for moment in moments:
        histogram.observe(max(0.0, (now - moment).total_seconds()))


def partitioned(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether ``table`` (in the connection's schema) is partitioned."""
    row = conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname = %s",
        (table,),
    ).fetchone()
    return row is not None and row[0] == "p"


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s month, in UTC."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y%m}"


def ensure_partition(conn: psycopg.Connection[Any], table: str, month: date) -> None:
    """Create ``table``'s partition of ``month`` (UTC) unless it exists."""
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    create = "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
    conn.execute(
        sql.SQL(create).format(
            sql.Identifier(partition_name(table, month)),
            sql.Identifier(table),
            sql.Literal(f"{month.isoformat()} 00:00+00"),
            sql.Literal(f"{end.isoformat()} 00:00+00"),
        )
    )


def _column_kinds(conn: psycopg.Connection[Any], projection: Projection) -> list[str]:
    """The type of each of the projection's columns in its table (``format_type``: numeric,
    text[], ...), in the order of its rows."""
    types = dict(
        conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = %s AND a.attnum > 0"
            " AND NOT a.attisdropped",
            (projection.table,),
        ).fetchall()
    )
    return [types.get(c, "") for c in projection.columns]


_ZERO = Decimal(0)


def trim_scale(value: Decimal) -> Decimal:
    """``value`` without trailing zeros after the point, exactly (no rounding): PostgreSQL's
    ``trim_scale``. 21000.2500000000 → 21000.25, 100.00 → 100, 0.000 → 0."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return value  # not finite, or no digits after the point
    significant = bytes(digits).rstrip(b"\0")
    if not significant:
        return _ZERO
    cut = min(len(digits) - len(significant), -exponent)
    if cut == 0:
        return value
    return Decimal((sign, digits[:-cut], exponent + cut))


def _on_conflict(projection: Projection, table: sql.Identifier) -> sql.Composable:
    if projection.newer_by is None:
        return sql.SQL("DO NOTHING")
    updated = [c for c in projection.columns if c not in projection.key]
    return sql.SQL("DO UPDATE SET {}, projected_at = now() WHERE {}.{} <= EXCLUDED.{}").format(
        sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in updated
        ),
        table,
        sql.Identifier(projection.newer_by),
        sql.Identifier(projection.newer_by),
    )


def _location(message: Message) -> Location:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None  # a data message
    return Location(topic, partition, offset)


def _newest_by_header(messages: Sequence[Message], void: VoidRanges, header: str) -> set[int]:
    """The positions in ``messages`` worth decoding: those without ``header``, and of those
    with it the one with the largest order of each topic, key and group (the last of equals)."""
    chosen: set[int] = set()
    best: dict[tuple[str | None, bytes | None, bytes], tuple[int, int]] = {}
    for n, message in enumerate(messages):
        if message.error() is not None or (void and void.contains(*_location(message))):
            continue
        headers = message.headers() or []
        pairs = headers.items() if isinstance(headers, dict) else headers
        found = next((v for k, v in pairs if k == header), None)
        value = found.encode() if isinstance(found, str) else found
        group, _, order = (value or b"").rpartition(b":")
        if value is None or not order.isdigit():
            chosen.add(n)
            continue
        slot = (message.topic(), message.key(), group)
        kept = best.get(slot)
        if kept is None or int(order) >= kept[0]:
            best[slot] = (int(order), n)
    return chosen | {n for _, n in best.values()}


def _latest_per_key(messages: Sequence[Message], void: VoidRanges) -> set[int]:
    """The positions in ``messages`` of the last record of each topic and key (of those not
    void)."""
    last: dict[tuple[str | None, bytes | None], int] = {}
    for n, message in enumerate(messages):
        if message.error() is None and not (void and void.contains(*_location(message))):
            last[(message.topic(), message.key())] = n
    return set(last.values())
