"""What ``fillstream projections list`` shows: each projection, the version its view serves,
its rows, and how far it is behind the log.

The live version is read from PostgreSQL (the table the projection's view selects from), not
assumed from the code, so it stays right once versions are rebuilt beside each other. The lag
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

from deploy._rdkafka import probe_consumer
from fillstream.errors import FillstreamError
from fillstream.settings import Settings
from projections import PROJECTIONS
from projections.migrate import connect
from projections.projection import Projection

_TIMEOUT = 10.0


class ListingError(FillstreamError):
    """The broker or the database did not answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectionState:
    name: str
    view: str
    live_version: int | None
    """The version the view serves; None when the view is missing (not migrated)."""
    table: str | None
    rows: int | None
    lag: int | None
    """Records of its topics not projected yet; None when the broker did not say."""
    updated_at: datetime | None
    """When its projector last stored offsets."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_projections(
    settings: Settings, projections: Sequence[Projection] = PROJECTIONS
) -> list[ProjectionState]:
    """The state of each projection, in the order given."""
    try:
        with connect(settings, connect_timeout=5) as conn:
            read = [_read(settings, conn, p) for p in projections]
    except psycopg.Error as e:
        raise ListingError(f"reading the projections from PostgreSQL failed: {e}") from e
    consumer = probe_consumer(
        settings.bootstrap_servers,
        settings.group("projections-probe"),
        **{"isolation.level": "read_committed", "enable.partition.eof": True},
    )
    try:
        return [
            state if stored is None else replace(state, lag=_lag(consumer, settings, p, stored))
            for p, (state, stored) in zip(projections, read, strict=True)
        ]
    finally:
        consumer.close()


def _read(
    settings: Settings, conn: psycopg.Connection[Any], p: Projection
) -> tuple[ProjectionState, dict[tuple[str, int], int] | None]:
    """What PostgreSQL says of ``p`` (its lag still None), and the offsets its live version
    stored (None when it has no live version)."""
    tables = conn.execute(
        "SELECT table_name FROM information_schema.view_table_usage"
        " WHERE view_schema = %s AND view_name = %s AND table_name LIKE %s",
        (settings.namespace, p.name, f"{p.name}\\_v%"),
    ).fetchall()
    state = ProjectionState(name=p.name, view=p.name, live_version=None, table=None, rows=None,
                            lag=None, updated_at=None)  # fmt: skip
    if len(tables) != 1:
        return state, None
    (table,) = tables[0]
    version = int(table.rsplit("_v", 1)[1])
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    offsets = conn.execute(
        "SELECT topic, partition, next_offset, updated_at FROM projection_offsets"
        " WHERE projection = %s AND version = %s",
        (p.name, version),
    ).fetchall()
    state = replace(
        state,
        live_version=version,
        table=table,
        rows=int(count.fetchone()[0]),  # type: ignore[index]
        updated_at=max((row[3] for row in offsets), default=None),
    )
    return state, {(topic, partition): offset for topic, partition, offset, _ in offsets}


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
    rows = [("projection", "live", "table", "rows", "lag", "last stored")]
    for s in states:
        rows.append(
            (
                s.name,
                "-" if s.live_version is None else f"v{s.live_version}",
                s.table or "(not migrated)",
                "-" if s.rows is None else f"{s.rows:,}",
                "?" if s.lag is None else f"{s.lag:,}",
                "-" if s.updated_at is None else s.updated_at.isoformat(timespec="seconds"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in (3, 4) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )
