"""Versioned SQL migrations, applied in order, once, inside the namespace's schema."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg
from psycopg import sql

from core.errors import ServiceError
from core.settings import Settings

log = logging.getLogger("fillstream.migrate")

# any constant works; it serializes concurrent migrators on one database
_LOCK_ID = 0x66696C6C


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("projections").joinpath("migrations")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), folder.joinpath(name).read_text()) for name in names]


def migrate(settings: Settings) -> list[str]:
    """Create the schema if needed and apply pending migrations; return the names applied."""
    applied: list[str] = []
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
                done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
                for name, text in migration_files():
                    if name in done:
                        continue
                    conn.execute(text.encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                    applied.append(name)
                    log.info("applied migration %s in schema %s", name, settings.namespace)
                _register_projections(conn)
                conn.execute(
                    "UPDATE stream_settings SET value = %s WHERE name = 'excursion_period'",
                    (settings.excursion_period,),
                )
    except psycopg.OperationalError as e:
        raise ServiceError(
            "postgresql", f"cannot connect ({_first_line(e)}); is DATABASE_URL right?"
        ) from e
    return applied


def _register_projections(conn: psycopg.Connection) -> None:
    """Register version 1 of each projection with no version yet as live (its table and view
    come from the migrations)."""
    from projections import PROJECTIONS  # the package imports this module

    conn.execute(
        "INSERT INTO projection_versions (projection, version, state, switched_at)"
        " SELECT name, 1, 'live', now() FROM unnest(%s::text[]) AS name"
        " WHERE NOT EXISTS (SELECT 1 FROM projection_versions v WHERE v.projection = name)",
        ([p.name for p in PROJECTIONS],),
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
