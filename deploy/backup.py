"""Backing up and restoring the projections: a ``pg_dump`` of the namespace's PostgreSQL schema
(tables, views, the offsets each projection version stored, the version registry), in
PostgreSQL's custom format.

The Kafka log stays the source of truth: a dump is only a head start. Restored into an empty
database, each projector resumes from the offsets stored in the dump (written in the same
transactions as the rows, so the dump is consistent) and catches up with everything logged
since, which gives the same tables as if nothing had been lost. Without any dump, the same
tables come from the log alone (``fillstream migrate``, then the projectors start from the
beginning).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from core.errors import ServiceError
from core.settings import Settings
from deploy.errors import BackupError
from deploy.postgres import find_bindir


def default_path(settings: Settings, now: datetime | None = None) -> Path:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return settings.home / "backups" / f"{settings.namespace}-{moment}.dump"


def backup(settings: Settings, path: Path) -> Path:
    """Dump the namespace's schema to ``path`` (written beside it, then renamed: never a
    half-written dump under that name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    _run(
        [_tool("pg_dump"), "--format=custom", f"--schema={settings.namespace}", "--no-owner",
         f"--file={partial}", f"--dbname={settings.dsn}"],
        "pg_dump",
    )  # fmt: skip
    partial.replace(path)
    return path


def restore(settings: Settings, path: Path, *, force: bool = False) -> None:
    """Restore a dump of the namespace's schema. Refused when the schema exists (it would mix
    two states) unless ``force``, which drops it first."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    schema = settings.namespace
    try:
        with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if exists and exists[0]:
                if not force:
                    raise BackupError(
                        f"schema {schema!r} exists; restore into an empty database, or give"
                        " --force to drop it first (stop the projectors before)"
                    )
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    except psycopg.OperationalError as e:
        raise ServiceError("postgresql", f"cannot connect ({e}); is DATABASE_URL right?") from e
    _run(
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={settings.dsn}",
         str(path)],
        "pg_restore",
    )  # fmt: skip


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    candidate = find_bindir() / name
    if candidate.is_file():
        return str(candidate)
    raise BackupError(f"{name} not found: install PostgreSQL's client programs")


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else result.returncode}")
