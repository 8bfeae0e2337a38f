"""What ``fillstream projections list`` shows: each projection's versions (the one its view
serves first), their rows, and how far each is behind the log.

Versions are read from PostgreSQL's registry (``projection_versions``), not assumed from the
code: a rebuild adds versions beside the live one and switches the view between them. The lag
of a version is, over the partitions of the topics it reads, the end offset less the offset its
projector stored in ``projection_offsets`` (the whole partition when it stored none); a
partition where only transaction markers lie beyond that offset (read to its end, no record)
counts 0, so a caught-up projection of a transactional topic reads 0. Otherwise markers count
too: the lag of a busy transactional topic is an upper bound. Row counts are exact
(``count(*)``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from psycopg import sql

from core.database import connect
from core.kafka import probe_consumer
from core.settings import Settings
from projections import PROJECTIONS, versions
from projections.errors import ListingError
from projections.projection import Projection

_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectionState:
    """One version of a projection."""

    name: str
    view: str
    version: int | None
    """None when the projection has no version (not migrated)."""
    state: str
    """``live`` (its view reads it), ``kept``, ``built``, ``building``, ``as_of``, ``scratch``,
    or ``missing`` when not migrated."""
    live_version: int | None
    """The version the view serves."""
    table: str | None
    rows: int | None
    lag: int | None
    """Records of its topics not projected yet; None when the broker did not say, and for an
    as-of version (it stops where it was asked to)."""
    updated_at: datetime | None
    """When its projector last stored offsets."""
    until: datetime | None = None
    """An as-of version's moment."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_projections(
    settings: Settings, projections: Sequence[Projection] = PROJECTIONS
) -> list[ProjectionState]:
    """The versions of each projection, in the order given, the live one first."""
    try:
        with connect(settings, connect_timeout=5) as conn:
            read = [item for p in projections for item in _read(conn, p)]
    except psycopg.Error as e:
        raise ListingError(f"reading the projections from PostgreSQL failed: {e}") from e
    consumer = probe_consumer(
        settings.bootstrap_servers,
        settings.group("projections-probe"),
        **{"isolation.level": "read_committed", "enable.partition.eof": True},
    )
    try:
        return [
            state
            if stored is None or state.state == "as_of"
            else replace(state, lag=_lag(consumer, settings, p, stored))
            for p, state, stored in read
        ]
    finally:
        consumer.close()


_Read = tuple[Projection, "ProjectionState", dict[tuple[str, int], int] | None]


def _read(conn: psycopg.Connection[Any], p: Projection) -> list[_Read]:
    """What PostgreSQL says of each version of ``p`` (the lag still None), with the offsets
    it stored."""
    try:
        found = versions.versions(conn, p.name)
    except psycopg.errors.UndefinedTable:  # not migrated
        conn.rollback()
        found = []
    live = next((v.version for v in found if v.state == "live"), None)
    if not found:
        missing = ProjectionState(name=p.name, view=p.name, version=None, state="missing",
                                  live_version=None, table=None, rows=None, lag=None,
                                  updated_at=None)  # fmt: skip
        return [(p, missing, None)]
    read: list[_Read] = []
    for v in sorted(found, key=lambda v: (v.state != "live", v.version)):
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(v.table)))
        offsets = conn.execute(
            "SELECT topic, partition, next_offset, updated_at FROM projection_offsets"
            " WHERE projection = %s AND version = %s",
            (p.name, v.version),
        ).fetchall()
        state = ProjectionState(
            name=p.name,
            view=p.name if v.state == "live" else v.as_of_view if v.state == "as_of" else "",
            version=v.version,
            state=v.state,
            live_version=live,
            table=v.table,
            rows=int(count.fetchone()[0]),  # type: ignore[index]
            lag=None,
            updated_at=max((row[3] for row in offsets), default=None),
            until=v.until,
        )
        stored = {(topic, partition): offset for topic, partition, offset, _ in offsets}
        read.append((p, state, stored))
    return read


def _lag(
    consumer: Consumer, settings: Settings, p: Projection, stored: dict[tuple[str, int], int]
) -> int | None:
    total = 0
    try:
        for name in p.topics:
            topic = settings.topic(name)
            metadata = consumer.list_topics(topic, timeout=_TIMEOUT).topics[topic]
            for partition in metadata.partitions:
                tp = TopicPartition(topic, partition)
                low, high = consumer.get_watermark_offsets(tp, timeout=_TIMEOUT, cached=False)
                start = stored.get((topic, partition), low)
                if high > start and _records_from(consumer, topic, partition, start):
                    total += high - start
    except KafkaException:
        return None
    return total


def _records_from(consumer: Consumer, topic: str, partition: int, offset: int) -> bool:
    """Whether a committed record lies at or after ``offset`` (not only markers)."""
    consumer.assign([TopicPartition(topic, partition, offset)])
    try:
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None:
                return True
            if error.code() == KafkaError._PARTITION_EOF:
                return False
            raise KafkaException(error)
        return True  # no answer in time: count the offsets
    finally:
        consumer.unassign()


def render(states: Sequence[ProjectionState]) -> str:
    rows = [("projection", "version", "state", "table", "rows", "lag", "last stored")]
    for s in states:
        rows.append(
            (
                s.name,
                "-" if s.version is None else f"v{s.version}",
                s.state if s.until is None else f"as of {s.until.isoformat(timespec='seconds')}",
                s.table or "(not migrated)",
                "-" if s.rows is None else f"{s.rows:,}",
                "-" if s.state == "as_of" else "?" if s.lag is None else f"{s.lag:,}",
                "-" if s.updated_at is None else s.updated_at.isoformat(timespec="seconds"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in (4, 5) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )
