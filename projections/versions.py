"""The versions of a projection in PostgreSQL: the registry (``projection_versions``), each
version's table, the view that serves one of them, and the advisory lock that lets only one
process write a version at a time.

A projection's view is its public face; its versions are tables named ``<name>_v<N>``. A new
version's table is made ``LIKE`` the live one (columns, defaults, constraints, indexes), so it
has the live table's current shape, migrations included. Switching rewrites the view's own
definition (read back from PostgreSQL) to read the other table: ``CREATE OR REPLACE VIEW`` is
atomic, and views built on the view (``positions`` on ``market_bars``) follow it; the few
other views that read the table itself (``trade_corrections``) are rewritten with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from core.settings import Settings
from projections.errors import VersionError
from projections.projection import Projection

STATES = ("live", "kept", "built", "building", "as_of", "scratch")
"""The states of a version that has a table (``dropped`` ones have none)."""


@dataclass(frozen=True, slots=True)
class Version:
    projection: str
    version: int
    state: str
    until: datetime | None
    created_at: datetime
    switched_at: datetime | None

    @property
    def table(self) -> str:
        return f"{self.projection}_v{self.version}"

    @property
    def as_of_view(self) -> str:
        """The view over an ``as_of`` version, shaped like the projection's own."""
        return f"{self.projection}_as_of_v{self.version}"


_COLUMNS = "projection, version, state, until, created_at, switched_at"


def versions(conn: psycopg.Connection[Any], name: str) -> list[Version]:
    """The versions of ``name`` that have a table, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM projection_versions"
        " WHERE projection = %s AND state <> 'dropped' ORDER BY version",
        (name,),
    ).fetchall()
    return [Version(*row) for row in rows]


def live(conn: psycopg.Connection[Any], name: str) -> Version:
    for v in versions(conn, name):
        if v.state == "live":
            return v
    raise VersionError(f"projection {name!r} has no live version; run `fillstream migrate`")


def get(conn: psycopg.Connection[Any], name: str, version: int) -> Version:
    for v in versions(conn, name):
        if v.version == version:
            return v
    known = ", ".join(f"v{v.version} ({v.state})" for v in versions(conn, name)) or "none"
    raise VersionError(f"projection {name!r} has no version {version} (it has: {known})")


def create(
    conn: psycopg.Connection[Any],
    projection: Projection,
    like: str,
    *,
    state: str,
    until: datetime | None = None,
    indexes: bool = True,
) -> Version:
    """Register the next version of ``projection`` (numbers are never reused) and create its
    empty table shaped like table ``like``. Without ``indexes`` it gets only its primary key
    (what the projector's upsert needs): a table filled from the log gets the others afterwards
    (``add_indexes``), built in one pass each instead of maintained row by row."""
    with conn.transaction():
        lock = f"versions:{projection.name}"
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
        (number,) = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM projection_versions WHERE projection = %s",
            (projection.name,),
        ).fetchone() or (1,)
        table = projection.at(number).table
        (partition_key,) = conn.execute(
            "SELECT pg_get_partkeydef(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = %s",
            (like,),
        ).fetchone() or (None,)
        including = "INCLUDING ALL" if indexes else "INCLUDING ALL EXCLUDING INDEXES"
        create = sql.SQL("CREATE TABLE {} (LIKE {} " + including + ")").format(
            sql.Identifier(table), sql.Identifier(like)
        )
        if partition_key:  # partitioned like it (its partitions come with its rows)
            create = sql.SQL("{} PARTITION BY {}").format(create, sql.SQL(partition_key))
        conn.execute(create)
        if not indexes:
            (key,) = conn.execute(
                "SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k"
                " JOIN pg_class c ON c.oid = k.conrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relname = %s AND k.contype = 'p'",
                (like,),
            ).fetchone() or (None,)
            if key:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD {}").format(sql.Identifier(table), sql.SQL(key))
                )
        conn.execute(
            "INSERT INTO projection_versions (projection, version, state, until)"
            " VALUES (%s, %s, %s, %s)",
            (projection.name, number, state, until),
        )
    return get(conn, projection.name, number)


def add_indexes(conn: psycopg.Connection[Any], like: str, table: str) -> int:
    """Give ``table`` each index of table ``like`` it lacks (its primary key aside), named
    after it; the indexes created."""
    found = conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = current_schema() AND t.relname = %s AND NOT x.indisprimary",
        (like,),
    ).fetchall()
    created = 0
    for name, definition in found:
        new_name = table + name.removeprefix(like) if name.startswith(like) else f"{table}_{name}"
        head, _, rest = definition.partition(" ON ")
        target = re.sub(rf"^(ONLY )?(\S+\.)?{re.escape(like)}\b", "", rest)
        if target == rest:
            continue  # not an index definition this understands
        kind = "CREATE UNIQUE INDEX" if head.startswith("CREATE UNIQUE") else "CREATE INDEX"
        conn.execute(
            sql.SQL(kind + " IF NOT EXISTS {} ON {}")
            .format(sql.Identifier(new_name), sql.Identifier(table))
            .as_string(conn)
            + target
        )
        created += 1
    return created


def set_state(
    conn: psycopg.Connection[Any], name: str, version: int, state: str, *, switched: bool = False
) -> None:
    conn.execute(
        "UPDATE projection_versions SET state = %s,"
        " switched_at = CASE WHEN %s THEN now() ELSE switched_at END"
        " WHERE projection = %s AND version = %s",
        (state, switched, name, version),
    )


def point_view(conn: psycopg.Connection[Any], view: str, source: str, target: str,
               *, name: str | None = None) -> None:  # fmt: skip
    """Make view ``name`` read table ``target`` where ``view`` reads table ``source``. Without
    ``name`` (a switch), the other views of the schema that read ``source`` itself (a second
    view of the projection's rows: ``trade_corrections`` reads ``trades_v1``) follow too."""
    (definition,) = conn.execute(
        "SELECT pg_get_viewdef(c.oid) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname = %s AND c.relkind = 'v'",
        (view,),
    ).fetchone() or (None,)
    if definition is None:
        raise VersionError(f"there is no view {view!r}; run `fillstream migrate`")
    pattern = re.compile(rf"\b{re.escape(source)}\b")
    if not pattern.search(definition):
        raise VersionError(f"view {view!r} does not read table {source!r}")
    replace = sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(sql.Identifier(name or view))
    conn.execute(replace.as_string(conn) + pattern.sub(target, definition))
    if name is not None:
        return
    for other, text in conn.execute(_READERS_OF_TABLE, (source, view)).fetchall():
        replace = sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(sql.Identifier(other))
        conn.execute(replace.as_string(conn) + pattern.sub(target, text))


_READERS_OF_TABLE = """
SELECT DISTINCT v.relname, pg_get_viewdef(v.oid)
FROM pg_class t
JOIN pg_depend d ON d.refobjid = t.oid AND d.refclassid = 'pg_class'::regclass
                AND d.classid = 'pg_rewrite'::regclass
JOIN pg_rewrite w ON w.oid = d.objid
JOIN pg_class v ON v.oid = w.ev_class AND v.relkind = 'v'
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = %s
  AND v.relnamespace = current_schema()::regnamespace AND v.relname <> %s
"""
"""The other views of the schema that read a table, and their definitions."""


def drop(conn: psycopg.Connection[Any], version: Version) -> None:
    """Drop a version that is not live: its table, its as-of view and its stored offsets. The
    registry keeps its row (``dropped``) so its number is not given again."""
    if version.state == "live":
        raise VersionError(
            f"{version.table} is live; switch {version.projection} to another version first"
        )
    with conn.transaction():
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(version.as_of_view)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(version.table)))
        conn.execute(
            "DELETE FROM projection_offsets WHERE projection = %s AND version = %s",
            (version.projection, version.version),
        )
        set_state(conn, version.projection, version.version, "dropped")


def writer_lock_key(settings: Settings, table: str) -> str:
    return f"writer:{settings.namespace}.{table}"


def try_writer_lock(conn: psycopg.Connection[Any], settings: Settings, table: str) -> bool:
    """Take the session lock that the one writer of ``table`` holds; False when another
    session holds it."""
    (taken,) = conn.execute(
        "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
        (writer_lock_key(settings, table),),
    ).fetchone() or (False,)
    if not conn.autocommit:
        conn.commit()
    return bool(taken)


def release_writer_lock(conn: psycopg.Connection[Any], settings: Settings, table: str) -> None:
    conn.execute(
        "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (writer_lock_key(settings, table),)
    )
    if not conn.autocommit:
        conn.commit()


def stored_offsets(
    conn: psycopg.Connection[Any], name: str, version: int
) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM projection_offsets"
        " WHERE projection = %s AND version = %s",
        (name, version),
    ).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}
