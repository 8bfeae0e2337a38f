"""Backup and restore: a dump of the projections, restored into an empty schema, plus the
projectors catching up with the log, gives the same tables as the ones that were lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import sql

from core.database import connect
from core.settings import Settings
from deploy.backup import backup, restore
from deploy.errors import BackupError
from projections import PROJECTIONS, SERVICE_CHECKS
from projections.listing import list_projections
from projections.migrate import migrate
from tests.fixtures.pipeline import post, query
from tests.fixtures.services import wait_for
from tests.integration.test_rebuild import round_trips, trades
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def settled(settings: Settings) -> Callable[[], bool]:
    """A predicate: every projection has read all of its topics, and the tables did not change
    since it was last asked (the stages derive snapshots a little after the trades)."""
    last: list[object] = [None]

    def check() -> bool:
        if not all(s.lag == 0 for s in list_projections(settings)):
            return False
        now = contents(settings)
        same, last[0] = now == last[0], now
        return same

    return check


def contents(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection's live rows, every column but projected_at, in key order; but the
    processes' health checks, which keep coming while a test compares."""
    out = {}
    with connect(settings) as conn:
        for p in PROJECTIONS:
            if p is SERVICE_CHECKS:
                continue
            columns = sql.SQL(", ").join(map(sql.Identifier, p.columns))
            key = sql.SQL(", ").join(map(sql.Identifier, p.key))
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                    columns, sql.Identifier(p.table), key
                )
            ).fetchall()
            out[p.name] = rows
    return out


def test_a_restored_dump_catches_up_with_the_log_to_the_same_tables(
    settings: Settings, pipeline: Pipeline
) -> None:
    assert post(settings, round_trips("h", 3))[0] == 202
    wait_for(lambda: len(trades(settings)) == 3, timeout=90, message="no trades")
    dump = backup(settings, settings.home / "backups" / "before.dump")
    assert dump.stat().st_size > 0 and not list(dump.parent.glob("*.partial"))

    assert post(settings, round_trips("i", 2, minute=10))[0] == 202
    wait_for(lambda: len(trades(settings)) == 5, timeout=90, message="no more trades")
    wait_for(
        lambda: len(query(settings, "SELECT 1 FROM executions")) == 10,
        timeout=60,
        message="executions not projected",
    )
    wait_for(settled(settings), timeout=90, interval=2.0, message="never settled")
    expected = contents(settings)

    pipeline.projector.stop()
    with pytest.raises(BackupError, match="exists; restore into an empty database"):
        restore(settings, dump)
    restore(settings, dump, force=True)  # the database is lost; the dump comes back
    migrate(settings)
    assert len(trades(settings)) == 3  # as dumped
    pipeline.projector.start()
    wait_for(
        lambda: contents(settings) == expected,
        timeout=90,
        interval=0.5,
        message="the restored projections did not catch up to the same tables",
    )
    assert sum(len(rows) for rows in expected.values()) > 10


def test_restore_names_a_missing_file(settings: Settings) -> None:
    with pytest.raises(BackupError, match="no such file"):
        restore(settings, settings.home / "nothing.dump")
