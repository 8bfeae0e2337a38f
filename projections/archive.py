"""Moving old months of the partitioned projections (trades, executions, market_bars) out of
PostgreSQL into files, and back.

``archive`` writes each month's partition of a projection's live version to a gzipped CSV file
(with a header naming the columns), then detaches and drops the partition in the transaction
that read it, and records the move in ``projection_archive``: a month is either in its table or
in its file, never lost and never in both. ``unarchive`` loads a file back into its month's
partition (a row that came again in the meantime is kept once) and deletes the file. The log
stays the source of truth: a rebuild brings archived months back into the new version.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from core.database import connect
from core.settings import Settings
from projections import versions
from projections.errors import ArchiveError
from projections.projection import Projection
from projections.projector import ensure_partition, partitioned

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Month:
    projection: str
    version: int
    month: date
    path: Path
    rows: int


def parse_month(text: str) -> date:
    """``2026-09`` → 2026-09-01."""
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        raise ArchiveError(f"{text!r} is not a month (e.g. 2026-09)") from None
    return moment.date()


def months_back(keep: int, today: date | None = None) -> date:
    """The first month kept when the last ``keep`` months (this one included) stay."""
    today = today or datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 - (keep - 1)
    return date(index // 12, index % 12 + 1, 1)


def archive(
    settings: Settings,
    projection: Projection,
    before: date,
    *,
    directory: Path | None = None,
    say: Say = lambda _: None,
) -> list[Month]:
    """Move every month of ``projection``'s live version that ends by ``before`` out to files
    under ``directory`` (default ``FILLSTREAM_HOME/archive``)."""
    root = (directory or settings.home / "archive") / settings.namespace
    moved = []
    with connect(settings) as conn:
        conn.autocommit = True
        live = versions.live(conn, projection.name)
        if not partitioned(conn, live.table):
            raise ArchiveError(f"{live.table} is not partitioned by month; nothing to archive")
        for month, partition in _partitions(conn, live.table):
            if month >= before:
                continue
            path = root / live.table / f"{month:%Y%m}.csv.gz"
            rows = _move_out(conn, live, month, partition, path)
            moved.append(Month(projection.name, live.version, month, path, rows))
            say(f"{projection.name}: {month:%Y-%m} ({rows:,} rows) moved to {path}")
    return moved


def unarchive(
    settings: Settings,
    projection: Projection,
    months: Sequence[date] | None = None,
    *,
    say: Say = lambda _: None,
) -> list[Month]:
    """Load archived months of ``projection``'s live version back (all when ``months`` is
    None) and delete their files."""
    restored = []
    with connect(settings) as conn:
        conn.autocommit = True
        live = versions.live(conn, projection.name)
        for entry in archived(conn, projection.name, live.version):
            if months is not None and entry.month not in months:
                continue
            rows = _move_in(conn, live, entry)
            restored.append(Month(entry.projection, entry.version, entry.month, entry.path, rows))
            say(f"{projection.name}: {entry.month:%Y-%m} ({rows:,} rows) back from {entry.path}")
    missing = set(months or ()) - {m.month for m in restored}
    if missing:
        shown = ", ".join(f"{m:%Y-%m}" for m in sorted(missing))
        raise ArchiveError(f"{projection.name}: no archived month {shown}")
    return restored


def archived(
    conn: psycopg.Connection[Any], name: str | None = None, version: int | None = None
) -> list[Month]:
    rows = conn.execute(
        "SELECT projection, version, month, path, rows FROM projection_archive"
        " WHERE (%(name)s::text IS NULL OR projection = %(name)s)"
        " AND (%(version)s::int IS NULL OR version = %(version)s)"
        " ORDER BY projection, version, month",
        {"name": name, "version": version},
    ).fetchall()
    return [Month(p, v, m, Path(path), n) for p, v, m, path, n in rows]


def _partitions(conn: psycopg.Connection[Any], table: str) -> list[tuple[date, str]]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
        " JOIN pg_namespace n ON n.oid = p.relnamespace"
        " WHERE n.nspname = current_schema() AND p.relname = %s ORDER BY c.relname",
        (table,),
    ).fetchall()
    found = []
    for (name,) in rows:
        suffix = name.removeprefix(table + "_")
        if len(suffix) == 6 and suffix.isdigit():
            found.append((date(int(suffix[:4]), int(suffix[4:]), 1), name))
    return found


def _move_out(
    conn: psycopg.Connection[Any], live: versions.Version, month: date, partition: str, path: Path
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with conn.transaction():
        # no writes to the month while it is read; readers go on until the detach
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(partition)))
        with gzip.open(partial, "wb") as out:
            copy = sql.SQL("COPY {} TO STDOUT (FORMAT csv, HEADER)").format(
                sql.Identifier(partition)
            )
            with conn.cursor().copy(copy) as reader:
                for chunk in reader:
                    out.write(bytes(chunk))
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        rows = _count_rows(partial)  # read back: the file must hold every row
        (expected,) = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(partition))
        ).fetchone() or (None,)
        if rows != expected:
            partial.unlink()
            raise ArchiveError(f"{partition}: {rows} rows written of {expected}; nothing moved")
        partial.replace(path)
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(live.table), sql.Identifier(partition)
            )
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition)))
        conn.execute(
            "INSERT INTO projection_archive (projection, version, month, path, rows)"
            " VALUES (%s, %s, %s, %s, %s)",
            (live.projection, live.version, month, str(path), rows),
        )
    return rows


def _move_in(conn: psycopg.Connection[Any], live: versions.Version, entry: Month) -> int:
    if not entry.path.is_file():
        raise ArchiveError(f"{entry.path}: the archive of {entry.month:%Y-%m} is missing")
    with gzip.open(entry.path, "rb") as source:
        header = source.readline()
        columns = next(csv.reader(io.StringIO(header.decode())))
        staging = sql.Identifier(f"{live.table}_unarchive")
        table = sql.Identifier(live.table)
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        with conn.transaction():
            ensure_partition(conn, live.table, entry.month)
            conn.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                    staging, table
                )
            )
            copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(staging, names)
            with conn.cursor().copy(copy) as writer:
                while chunk := source.read(1 << 20):
                    writer.write(chunk)
            cursor = conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                    table, names, names, staging
                )
            )
            rows = max(cursor.rowcount, 0)
            conn.execute(
                "DELETE FROM projection_archive WHERE projection = %s AND version = %s"
                " AND month = %s",
                (entry.projection, entry.version, entry.month),
            )
    entry.path.unlink()
    return rows


def _count_rows(path: Path) -> int:
    with gzip.open(path, "rt", newline="") as source:
        reader = csv.reader(source)
        next(reader, None)
        return sum(1 for _ in reader)
