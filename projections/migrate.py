"""The projections' schema: versioned migrations, applied in order, once; then the views, made
again from their files at every migrate.

Migrations (``migrations/NNNN_*.sql``) make and change tables. Each view's current definition
lives in one file, ``views/<depth>_<name>.sql``: every migrate drops the views and creates them
again from their files, in the migrations' transaction and under their lock, so changing a view
is editing its file. A migrate that has no migration to apply and finds every view standing as
its file made it (``schema_views`` keeps each file's text) leaves them be: the processes that
migrate as they start do not drop the views under their readers each time. The depth orders
the files: 1 for a view that reads tables only, else one more than the deepest view it reads.

A projection's view names its version 1 table (``trades_v1``) and is created reading the live
version's instead, as a switch leaves it (``versions.point_view``). ``schema_views`` records
the views made from files: one whose file is gone is dropped and not made again. Views made on
ours by other hands (``positions_as_of_v3`` reads ``market_bars``) are set aside and made
again as they were.

The migrations up to ``LAST_MIGRATION_WITH_VIEWS`` made and read the views themselves and stay
as existing databases applied them; the views stand while those run. Later migrations run with
no view standing: they read and change tables only.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from core.database import first_line
from core.errors import ServiceError
from core.settings import Settings
from projections.errors import MigrationError

log = logging.getLogger("fillstream.migrate")

# any constant works; it serializes concurrent migrators on one database
_LOCK_ID = 0x66696C6C

LAST_MIGRATION_WITH_VIEWS = "0018_regime_serving_fallback"
"""The last migration that made views; the views are in ``views/`` since."""

_VIEW_FILE = re.compile(r"(?P<depth>\d+)_(?P<name>\w+)\.sql")


class _SetAside(NamedTuple):
    """A view (or materialized view) that reads one of ours, to make again as it was."""

    schema: str
    name: str
    kind: str  # pg_class.relkind: 'v' or 'm'
    definition: str


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("projections").joinpath("migrations")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), folder.joinpath(name).read_text()) for name in names]


def view_files() -> list[tuple[str, str, str]]:
    """(file name, view name, definition) of each view, in the order they are created."""
    folder = resources.files("projections").joinpath("views")
    ordered = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _VIEW_FILE.fullmatch(entry.name)
        if match is None:
            raise MigrationError(f"projections/views/{entry.name}: name it <depth>_<view>.sql")
        ordered.append((int(match["depth"]), match["name"], entry.name))
    return [(file, name, folder.joinpath(file).read_text()) for _, name, file in sorted(ordered)]


def migrate(settings: Settings) -> list[str]:
    """Create the schema if needed, apply pending migrations and make the views again; return
    the names of the migrations applied."""
    applied: list[str] = []
    views = view_files()
    try:
        with psycopg.connect(settings.dsn, autocommit=False) as conn:
            schema = sql.Identifier(settings.namespace)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_views ("
                    " name text PRIMARY KEY, file text NOT NULL, definition text)"
                )
                done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
                pending = [(n, text) for n, text in migration_files() if n not in done]
                applied = [name for name, _ in pending]
                if not pending and _views_stand(conn, views):
                    _register_projections(conn)
                else:
                    _migrate(conn, settings, pending, views)
                conn.execute(
                    "UPDATE stream_settings SET value = %s WHERE name = 'excursion_period'",
                    (settings.excursion_period,),
                )
    except psycopg.OperationalError as e:
        raise ServiceError(
            "postgresql", f"cannot connect ({first_line(e)}); is DATABASE_URL right?"
        ) from e
    return applied


def _views_stand(conn: psycopg.Connection[Any], views: list[tuple[str, str, str]]) -> bool:
    """Whether every view stands as its file made it at the last migrate: then nothing is made
    again (a switch since has pointed its view at the live version already)."""
    made = {
        name: (file, definition)
        for name, file, definition in conn.execute(
            "SELECT name, file, definition FROM schema_views"
        )
    }
    if made != {name: (file, text) for file, name, text in views}:
        return False
    (standing,) = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        " AND relkind = 'v' AND relname = ANY(%s)",
        (list(made),),
    ).fetchone() or (0,)
    return int(standing) == len(made)


def _migrate(
    conn: psycopg.Connection[Any],
    settings: Settings,
    pending: list[tuple[str, str]],
    views: list[tuple[str, str, str]],
) -> None:
    """Apply the ``pending`` migrations and make the views again (see the module docstring)."""
    with_views = [(n, t) for n, t in pending if n <= LAST_MIGRATION_WITH_VIEWS]
    for name, text in with_views:
        _apply(conn, settings, name, text)
    names = [name for _, name, _ in views]
    made = {row[0] for row in conn.execute("SELECT name FROM schema_views")}
    set_aside = _drop_views(conn, sorted(made - set(names)) + names)
    for name, text in pending[len(with_views) :]:
        _apply(conn, settings, name, text)
    _register_projections(conn)
    _create_views(conn, views)
    _make_again(conn, set_aside)
    log.info("made %d views in schema %s", len(views), settings.namespace)


def _apply(conn: psycopg.Connection[Any], settings: Settings, name: str, text: str) -> None:
    conn.execute(text.encode())
    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
    log.info("applied migration %s in schema %s", name, settings.namespace)


def _register_projections(conn: psycopg.Connection[Any]) -> None:
    """Register version 1 of each projection with no version yet as live (its table comes from
    the migrations)."""
    from projections import PROJECTIONS  # the package imports this module

    conn.execute(
        "INSERT INTO projection_versions (projection, version, state, switched_at)"
        " SELECT name, 1, 'live', now() FROM unnest(%s::text[]) AS name"
        " WHERE NOT EXISTS (SELECT 1 FROM projection_versions v WHERE v.projection = name)",
        ([p.name for p in PROJECTIONS],),
    )


# The views that read ours, through any number of others, each after those it reads.
_READERS = """
WITH RECURSIVE reader (oid, depth) AS (
    SELECT c.oid, 0 FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%(names)s)
      AND c.relkind = 'v'
  UNION
    SELECT w.ev_class, reader.depth + 1
    FROM reader
    JOIN pg_depend d ON d.refobjid = reader.oid AND d.refclassid = 'pg_class'::regclass
                    AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite w ON w.oid = d.objid AND w.ev_class <> reader.oid
)
SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid)
FROM reader
JOIN pg_class c ON c.oid = reader.oid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE reader.depth > 0
  AND NOT (n.oid = current_schema()::regnamespace AND c.relname = ANY(%(names)s))
GROUP BY n.nspname, c.relname, c.relkind, c.oid
ORDER BY max(reader.depth), n.nspname, c.relname
"""


def _drop_views(conn: psycopg.Connection[Any], names: list[str]) -> list[_SetAside]:
    """Drop the views ``names`` that exist, in the reverse of their order; return the other views
    that read them (dropped with them), to make again."""
    set_aside = [_SetAside(*row) for row in conn.execute(_READERS, {"names": names})]
    for name in reversed(names):
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    return set_aside


def _create_views(conn: psycopg.Connection[Any], views: list[tuple[str, str, str]]) -> None:
    """Create the views from their files, each projection's reading its live version, and record
    them. The views were dropped first: a switch under way held its view until it committed, so
    the live versions read here are the ones it left."""
    live = {
        f"{projection}_v1": f"{projection}_v{version}"
        for projection, version in conn.execute(
            "SELECT projection, version FROM projection_versions"
            " WHERE state = 'live' AND version <> 1"
        )
    }
    for file, _, text in views:
        for first, current in live.items():
            text = re.sub(rf"\b{re.escape(first)}\b", current, text)
        try:
            conn.execute(text.encode())
        except psycopg.ProgrammingError as e:
            raise MigrationError(
                f"projections/views/{file}: {first_line(e)}; fix the view, or the migration"
                " that changed what it reads"
            ) from e
    conn.execute("DELETE FROM schema_views")
    conn.execute(
        "INSERT INTO schema_views (name, file, definition)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])",
        (
            [name for _, name, _ in views],
            [file for file, _, _ in views],
            [text for _, _, text in views],
        ),
    )


def _make_again(conn: psycopg.Connection[Any], set_aside: list[_SetAside]) -> None:
    for view in set_aside:
        kind = "MATERIALIZED VIEW" if view.kind == "m" else "VIEW"
        create = sql.SQL("CREATE " + kind + " {}.{} AS ").format(
            sql.Identifier(view.schema), sql.Identifier(view.name)
        )
        try:
            conn.execute(create.as_string(conn) + view.definition)
        except psycopg.ProgrammingError as e:
            raise MigrationError(
                f"view {view.schema}.{view.name} reads the views migrate makes again and cannot"
                f" be made again ({first_line(e)}); drop it, then migrate again"
            ) from e
