"""Connections to the projections' PostgreSQL database."""

from __future__ import annotations

import psycopg
from psycopg import sql

from core.errors import ServiceError
from core.settings import Settings


def connect(settings: Settings, **kwargs: object) -> psycopg.Connection:
    """A connection whose search_path is the namespace's schema."""
    try:
        conn = psycopg.connect(settings.dsn, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as e:
        raise ServiceError(
            "postgresql", f"cannot connect ({first_line(e)}); is DATABASE_URL right?"
        ) from e
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
    conn.commit()
    return conn


def first_line(error: Exception) -> str:
    """The first line of a driver's message (PostgreSQL's run over several), for a one-line
    error."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
