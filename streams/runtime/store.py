"""A stage's state on local disk: its changelog partitions, materialized.

A stage keeps its state in memory and writes every change to a compacted changelog topic; on
assignment it used to read its changelog partitions from the beginning. With a ``LocalStore``
(one SQLite file per stage and source partition under ``FILLSTREAM_HOME/state``), every
committed batch's changelog records are also applied to the file, with the offset after them,
so a restart reads the file and only the changelog records written since: what Faust's RocksDB
store does for its tables.

The changelog stays the truth, and the file only ever lags it: it is written after the Kafka
transaction commits, so a crash in between leaves it behind, and the restart reads the rest from
the changelog. A file is not trusted (it is emptied and the changelog read from its start) when
it cannot be read, when it names a position before the changelog's first offset (the records
after it are gone), or when it was last written more than ``TRUST`` ago: compaction removes a
tombstone a day after writing it (``delete.retention.ms``), so a deletion made meanwhile by
another worker could be missing from the records since.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

Entry = tuple[bytes, int, bytes]
"""A changelog record: key, offset, value (empty: a tombstone)."""

log = logging.getLogger("fillstream.streams")

TRUST = 12 * 3600.0
"""Seconds a file is trusted after its last write: half the broker's default tombstone
retention."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key BLOB PRIMARY KEY,
    offset INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS position (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    written_at REAL NOT NULL
);
"""


class LocalStore:
    """The materialized changelog partitions of one stage (see the module docstring)."""

    def __init__(self, directory: Path, now: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._now = now
        self._connections: dict[int, sqlite3.Connection] = {}
        """Open files by partition (one thread uses a store)."""

    def _path(self, partition: int) -> Path:
        return self.directory / f"{partition}.sqlite"

    def _open(self, partition: int) -> sqlite3.Connection:
        conn = self._connections.get(partition)
        if conn is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path(partition), isolation_level=None)
            self._connections[partition] = conn
            # the changelog is the truth: a file lost with the machine is read again from it
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = OFF")
            conn.executescript(_SCHEMA)
        return conn

    def close(self) -> None:
        """Close the open files."""
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def load(
        self, partition: int, topic: str, first_offset: int, end_offset: int
    ) -> tuple[list[Entry], int]:
        """The records the file holds for ``partition`` of the changelog ``topic`` (whose
        offsets now run from ``first_offset`` to ``end_offset``), in offset order, and the
        offset to read the changelog from after them: ``first_offset``, with no records, when
        the file is missing or not to be trusted."""
        try:
            conn = self._open(partition)
            row = conn.execute(
                "SELECT topic, next_offset, written_at FROM position WHERE id = 0"
            ).fetchone()
            reason = _distrust(row, topic, first_offset, end_offset, self._now())
            if reason is None:
                entries = conn.execute(
                    "SELECT key, offset, value FROM entries ORDER BY offset"
                ).fetchall()
                return [(bytes(k), int(o), bytes(v)) for k, o, v in entries], int(row[1])
            if row is not None:
                log.info("local state of %s[%d] not used: %s", topic, partition, reason)
        except sqlite3.DatabaseError as e:
            log.warning("local state of %s[%d] unreadable (%s)", topic, partition, e)
        self.clear(partition)
        return [], first_offset

    def apply(self, partition: int, topic: str, entries: Iterable[Entry], next_offset: int) -> None:
        """Apply changelog records, in offset order (an empty value, a tombstone, deletes its
        key), and remember that the file now holds the changelog up to ``next_offset``."""
        try:
            conn = self._open(partition)
            conn.execute("BEGIN")
            for key, offset, value in entries:
                if value:
                    conn.execute(
                        "INSERT INTO entries (key, offset, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET offset = excluded.offset,"
                        " value = excluded.value",
                        (key, offset, value),
                    )
                else:
                    conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            conn.execute(
                "INSERT INTO position (id, topic, next_offset, written_at) VALUES (0, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET topic = excluded.topic,"
                " next_offset = excluded.next_offset, written_at = excluded.written_at",
                (topic, next_offset, self._now()),
            )
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:  # the changelog still has it all
            log.warning("local state of %s[%d] not written (%s)", topic, partition, e)
            self.clear(partition)

    def clear(self, partition: int) -> None:
        """Forget what the file holds for ``partition``."""
        conn = self._connections.pop(partition, None)
        if conn is not None:
            conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._path(partition)}{suffix}").unlink(missing_ok=True)


def _distrust(
    row: tuple[str, int, float] | None, topic: str, first: int, end: int, now: float
) -> str | None:
    """Why a file's position may not be used; None when it may."""
    if row is None:
        return "empty"
    written_topic, next_offset, written_at = row
    if written_topic != topic:
        return f"written for {written_topic}"
    if next_offset < first:
        return f"it ends at offset {next_offset}, before the changelog's first, {first}"
    if next_offset > end:
        return f"it ends at offset {next_offset}, past the changelog's end, {end} (recreated?)"
    if now - written_at > TRUST:
        return f"last written {(now - written_at) / 3600:.1f} h ago"
    return None
