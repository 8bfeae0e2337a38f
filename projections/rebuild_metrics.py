"""Rebuild progress as Prometheus gauges, read when scraped: for each version being built
(``building``: a rebuild under way or interrupted), the records of its topics it has projected
and those still beyond it, and when it last stored offsets. (A verification's ``scratch``
version is left out: one kept by ``fillstream verify --keep`` would look like a stalled
rebuild.)

A rebuild runs in a short-lived process of its own; the projector, which Prometheus scrapes,
reads its progress from what it stored in PostgreSQL (``projection_offsets``) and from the
topics' watermarks. No row is counted, and when nothing is being built only the registry is
read. A scrape never fails: when the database or the broker does not answer within a few
seconds, the families are served without samples.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.database import connect
from core.errors import ServiceError
from core.kafka import probe_consumer
from core.settings import Settings
from projections import PROJECTIONS
from projections.projection import Projection

log = logging.getLogger("fillstream.projector")

DATABASE_SECONDS = 2
"""How long a scrape waits for PostgreSQL (to connect, then for the query)."""

BROKER_SECONDS = 4.0
"""How long a scrape waits for the broker's watermarks, all versions together."""

_BUILDING = """
SELECT v.projection, v.version, v.until, v.created_at,
       o.topic, o.partition, o.next_offset, o.updated_at
FROM projection_versions v
LEFT JOIN projection_offsets o ON o.projection = v.projection AND o.version = v.version
WHERE v.state = 'building'
ORDER BY v.projection, v.version
"""

Partition = tuple[str, int]
"""A topic's full name and a partition number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RebuildProgress:
    projection: str
    version: int
    projected: int
    """Records of its topics before the offsets it stored (from each partition's start)."""
    remaining: int
    """Records of its topics from the offsets it stored to their end (or, for a build as of
    a moment, to the first record logged after it)."""
    updated_at: datetime
    """When it last stored offsets; when it was created, until it stored any."""


def progress(
    stored: Mapping[Partition, int], bounds: Mapping[Partition, tuple[int, int]]
) -> tuple[int, int]:
    """``(projected, remaining)`` records over the partitions of ``bounds`` (each one's first
    offset and the offset its build ends at), given the next offsets ``stored``; a partition
    with no stored offset is all remaining. Transaction markers count as records."""
    projected = remaining = 0
    for partition, (low, end) in bounds.items():
        end = max(end, low)
        at = min(max(stored.get(partition, low), low), end)
        projected += at - low
        remaining += end - at
    return projected, remaining


@dataclass(slots=True, kw_only=True)
class _Stored:
    """What PostgreSQL says of one version being built."""

    projection: str
    version: int
    until: datetime | None
    updated_at: datetime
    offsets: dict[Partition, int] = field(default_factory=dict)


class RebuildCollector(Collector):
    """The rebuild gauges of every version being built, read at each scrape (see the module's
    docstring). One broker consumer, made at the first scrape that needs it, serves them all."""

    def __init__(self, settings: Settings, projections: Sequence[Projection] = PROJECTIONS) -> None:
        self.settings = settings
        self._projections = {p.name: p for p in projections}
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()  # the HTTP server scrapes from several threads

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families without samples: what registering asks for, without any I/O."""
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        remaining, projected, updated = _families()
        try:
            with self._lock:
                found = self._read()
        except (psycopg.Error, ServiceError, KafkaException) as e:
            log.debug("rebuild progress: not read: %s", e)
            found = []
        for p in found:
            labels = [p.projection, str(p.version)]
            remaining.add_metric(labels, p.remaining)
            projected.add_metric(labels, p.projected)
            updated.add_metric(labels, p.updated_at.timestamp())
        yield from (remaining, projected, updated)

    def _read(self) -> list[RebuildProgress]:
        building = [b for b in _building(self.settings) if b.projection in self._projections]
        if not building:
            return []
        deadline = time.monotonic() + BROKER_SECONDS
        found = []
        for b in building:
            topics = self._projections[b.projection].topics
            bounds = _bounds(self._kafka(), [self.settings.topic(t) for t in topics], b, deadline)
            done, left = progress(b.offsets, bounds)
            found.append(RebuildProgress(projection=b.projection, version=b.version,
                                         projected=done, remaining=left,
                                         updated_at=b.updated_at))  # fmt: skip
        return found

    def _kafka(self) -> Consumer:
        if self._consumer is None:
            self._consumer = probe_consumer(
                self.settings.bootstrap_servers,
                self.settings.group("rebuild-metrics"),
                **{"isolation.level": "read_committed"},
            )
        return self._consumer


def _building(settings: Settings) -> list[_Stored]:
    found: dict[tuple[str, int], _Stored] = {}
    with connect(settings, connect_timeout=DATABASE_SECONDS, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{DATABASE_SECONDS}s'")
        rows = conn.execute(_BUILDING).fetchall()
    for projection, version, until, created_at, topic, partition, offset, updated_at in rows:
        b = found.setdefault(
            (projection, version),
            _Stored(projection=projection, version=version, until=until, updated_at=created_at),
        )
        if topic is not None:
            first = not b.offsets  # until then, updated_at is when the version was created
            b.offsets[(topic, partition)] = offset
            b.updated_at = updated_at if first else max(b.updated_at, updated_at)
    return list(found.values())


def _bounds(
    consumer: Consumer, topics: Sequence[str], b: _Stored, deadline: float
) -> dict[Partition, tuple[int, int]]:
    """Each partition's first offset and the offset the build of ``b`` ends at: the end of the
    log, or for a build as of a moment the first record logged after it."""
    bounds = {}
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=_left(deadline)).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        for partition in sorted(metadata.partitions):
            tp = TopicPartition(topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=_left(deadline), cached=False)
            bounds[(topic, partition)] = (int(low), int(high))
    if b.until is not None:
        after = int(b.until.timestamp() * 1000) + 1  # log timestamps are milliseconds
        asked = [TopicPartition(t, p, after) for t, p in bounds]
        for tp in consumer.offsets_for_times(asked, timeout=_left(deadline)):
            if tp.offset >= 0:  # else nothing was logged after it: the end of the log
                bounds[(tp.topic, tp.partition)] = (bounds[(tp.topic, tp.partition)][0], tp.offset)
    return bounds


def _left(deadline: float) -> float:
    """Seconds to the deadline; a request with (almost) none left times out at once."""
    return max(deadline - time.monotonic(), 0.001)


def _families() -> tuple[GaugeMetricFamily, ...]:
    """Remaining, projected, and last stored, without samples."""
    labels = ["projection", "version"]
    return (
        GaugeMetricFamily(
            "fillstream_projection_rebuild_remaining_records",
            "Records of its topics a projection version being built (a rebuild or a"
            " verification) has still to read: the end offsets less the offsets it stored"
            " (transaction markers count too: an upper bound).",
            labels=labels,
        ),
        GaugeMetricFamily(
            "fillstream_projection_rebuild_projected_records",
            "Records of its topics a projection version being built has read: the offsets it"
            " stored less the partitions' first offsets (transaction markers count too).",
            labels=labels,
        ),
        GaugeMetricFamily(
            "fillstream_projection_rebuild_updated_timestamp_seconds",
            "When a projection version being built last stored offsets (when it was created,"
            " until it stored any), in Unix seconds.",
            labels=labels,
        ),
    )
