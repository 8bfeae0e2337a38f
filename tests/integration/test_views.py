"""The views, one file each in ``projections/views``, made again at every migrate: a fresh
database gets the very views the migrations used to make, a database migrated before the files
existed (fully or part way) ends with the same, migrating again changes nothing (nor do two
migrates at once), a switched projection keeps serving its version, the views made on ours
survive while one whose file is gone goes, and no migration after the last that made views
makes one."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from core.database import connect
from core.settings import Settings
from projections import POSITIONS, PROJECTIONS, TRADES, versions
from projections.migrate import LAST_MIGRATION_WITH_VIEWS, migrate, migration_files, view_files

pytestmark = pytest.mark.integration

APPLIED_MIGRATIONS_SHA256 = "47a4069375335cfa4f58c89d645e48b23cd27d7ee38f6d4f0ab72aa75de90a7c"
"""The migrations up to ``LAST_MIGRATION_WITH_VIEWS`` as commit d80d1c5 had them (existing
databases applied them; the runner keeps no checksums, so this test is what notices an edit)."""

CHANGED_SINCE = frozenset(
    {"trades", "executions", "performance", "uptime_spans", "uptime_daily", "uptime_monthly"}
)
"""Views whose files have changed since the migrations made them (corrected trades: the latest
revision of each trade, an execution's correction, no window left empty by a void; the uptime
views leave out the accuracy runs' checks as they left out the rebuilds')."""

_CREATE_VIEW = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)",
    re.IGNORECASE,
)

View = tuple[str, str, list[tuple[str, str]]]
"""(relkind, pg_get_viewdef, [(column, type)])"""


def _views(settings: Settings) -> dict[str, View]:
    """Every view and materialized view of the namespace's schema."""
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relkind, pg_get_viewdef(c.oid),"
            " array_agg(array[a.attname::text, format_type(a.atttypid, a.atttypmod)]"
            "           ORDER BY a.attnum)"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('v', 'm')"
            "   AND a.attnum > 0 AND NOT a.attisdropped"
            " GROUP BY c.oid, c.relname, c.relkind"
        ).fetchall()
    return {name: (kind, definition, [tuple(c) for c in columns])
            for name, kind, definition, columns in rows}  # fmt: skip


def _migrate_as_before(settings: Settings, last: str = LAST_MIGRATION_WITH_VIEWS) -> None:
    """What ``fillstream migrate`` did before the views had files (commit d80d1c5), with the
    migrations up to ``last``: each applied once and recorded by name, then version 1 of each
    projection registered live and the excursion period set."""
    with psycopg.connect(settings.dsn) as conn, conn.transaction():
        schema = sql.Identifier(settings.namespace)
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
        conn.execute(
            "CREATE TABLE schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for name, text in migration_files():
            if name <= last:
                conn.execute(text.encode())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
        conn.execute(
            "INSERT INTO projection_versions (projection, version, state, switched_at)"
            " SELECT name, 1, 'live', now() FROM unnest(%s::text[]) AS name",
            ([p.name for p in PROJECTIONS],),
        )
        conn.execute(
            "UPDATE stream_settings SET value = %s WHERE name = 'excursion_period'",
            (settings.excursion_period,),
        )


def _beside(settings: Settings, suffix: str) -> Settings:
    """The same database, another schema."""
    return replace(settings, namespace=f"{settings.namespace}_{suffix}")


def test_a_fresh_database_gets_the_views_the_migrations_made(settings: Settings) -> None:
    reference = _beside(settings, "before")
    _migrate_as_before(reference)

    migrate(settings)

    views, before = _views(settings), _views(reference)
    before = {name: v for name, v in before.items() if name not in CHANGED_SINCE}
    assert {name: v for name, v in views.items() if name in before} == before
    assert sorted(views) == sorted(name for _, name, _ in view_files())  # and the views added since


@pytest.mark.parametrize("last", [LAST_MIGRATION_WITH_VIEWS, "0012_regimes"])
def test_a_database_migrated_before_the_view_files_ends_with_the_same_views(
    settings: Settings, last: str
) -> None:
    migrate(settings)
    old = _beside(settings, "old")
    _migrate_as_before(old, last)

    applied = migrate(old)

    assert applied == [name for name, _ in migration_files() if name > last]
    assert _views(old) == _views(settings)


def test_migrating_again_changes_nothing(settings: Settings) -> None:
    migrate(settings)
    views = _views(settings)

    assert migrate(settings) == []
    assert _views(settings) == views


def _view_oids(settings: Settings) -> dict[str, int]:
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT relname, oid::int FROM pg_class"
            " WHERE relnamespace = current_schema()::regnamespace AND relkind = 'v'"
        ).fetchall()
    return dict(rows)


def test_a_migrate_with_nothing_to_do_leaves_the_views_be(settings: Settings) -> None:
    migrate(settings)
    made = _view_oids(settings)

    migrate(settings)
    assert _view_oids(settings) == made  # not dropped under their readers and made again

    with connect(settings) as conn, conn.transaction():
        conn.execute("DROP VIEW performance_by_regime")
    migrate(settings)
    again = _view_oids(settings)
    assert sorted(again) == sorted(made)  # a view dropped by hand is made again
    assert again["performance_by_regime"] != made["performance_by_regime"]


def test_migrates_at_once_take_turns(settings: Settings) -> None:
    with ThreadPoolExecutor(2) as pool:
        first = sorted(pool.map(migrate, [settings] * 2), key=len)
        again = list(pool.map(migrate, [settings] * 2))

    assert first == [[], [name for name, _ in migration_files()]]
    assert again == [[], []]
    assert sorted(_views(settings)) == sorted(name for _, name, _ in view_files())


def _switch(conn: psycopg.Connection[Any], name: str, old: int, new: int) -> None:
    """What a switch does once the parity gate lets it."""
    with conn.transaction():
        versions.point_view(conn, name, f"{name}_v{old}", f"{name}_v{new}")
        versions.set_state(conn, name, old, "kept")
        versions.set_state(conn, name, new, "live", switched=True)


def test_a_switched_projection_still_serves_its_version_and_views_on_ours_stay(
    settings: Settings,
) -> None:
    migrate(settings)
    with connect(settings) as conn:
        trades_v2 = versions.create(conn, TRADES, "trades_v1", state="built")
        _switch(conn, "trades", 1, trades_v2.version)
        versions.drop(conn, versions.get(conn, "trades", 1))  # the file's table is gone
        as_of = versions.create(conn, POSITIONS, "positions_v1", state="building")
        with conn.transaction():  # what a rebuild --until does; the view reads market_bars
            versions.point_view(conn, "positions", "positions_v1", as_of.table,
                                name=as_of.as_of_view)  # fmt: skip
            versions.set_state(conn, "positions", as_of.version, "as_of")
        # as if a view file had changed since: this migrate makes every view again
        conn.execute("UPDATE schema_views SET definition = NULL WHERE name = 'trades'")
    views = _views(settings)
    assert re.search(r"\btrades_v2\b", views["trades"][1])
    assert as_of.as_of_view in views

    assert migrate(settings) == []

    assert _views(settings) == views
    with connect(settings) as conn:
        live = versions.live(conn, "trades")
        assert live.version == trades_v2.version
        conn.execute("SELECT * FROM experiment_trades, paper_comparison, trade_regimes LIMIT 1")


def test_a_view_whose_file_is_gone_goes_and_those_made_by_others_stay(
    settings: Settings,
) -> None:
    migrate(settings)
    with connect(settings) as conn, conn.transaction():
        conn.execute("CREATE VIEW gone AS SELECT trade_id FROM trades")
        conn.execute("INSERT INTO schema_views (name, file) VALUES ('gone', '2_gone.sql')")
        conn.execute("CREATE VIEW mine AS SELECT rule, raised_at FROM alerts_active")
    mine = _views(settings)["mine"]

    migrate(settings)

    views = _views(settings)
    assert "gone" not in views
    assert views["mine"] == mine
    with connect(settings) as conn:
        made = conn.execute("SELECT name FROM schema_views").fetchall()
    assert sorted(name for (name,) in made) == sorted(name for _, name, _ in view_files())


def test_each_view_is_created_after_the_views_it_reads(settings: Settings) -> None:
    migrate(settings)
    depth = {name: int(file.split("_", 1)[0]) for file, name, _ in view_files()}
    with connect(settings) as conn:
        reads = conn.execute(
            "SELECT DISTINCT v.relname, r.relname FROM pg_rewrite w"
            " JOIN pg_class v ON v.oid = w.ev_class"
            " JOIN pg_depend d ON d.objid = w.oid AND d.classid = 'pg_rewrite'::regclass"
            "  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> w.ev_class"
            " JOIN pg_class r ON r.oid = d.refobjid AND r.relkind IN ('v', 'm')"
            " WHERE v.relnamespace = current_schema()::regnamespace"
        ).fetchall()
    assert reads
    too_shallow = [(view, read) for view, read in reads if depth[view] <= depth[read]]
    assert too_shallow == [], "a view's depth must be above the depth of each view it reads"


def test_views_are_defined_in_their_own_files_only() -> None:
    for file, name, text in view_files():
        assert _CREATE_VIEW.findall(_without_comments(text)) == [name], file
    later = [(n, t) for n, t in migration_files() if n > LAST_MIGRATION_WITH_VIEWS]
    after = [name for name, text in later if _CREATE_VIEW.search(_without_comments(text))]
    assert after == [], "a view's definition belongs in projections/views/<depth>_<name>.sql"


def test_the_migrations_existing_databases_applied_are_unchanged() -> None:
    digest = hashlib.sha256()
    for name, text in migration_files():
        if name <= LAST_MIGRATION_WITH_VIEWS:
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    assert digest.hexdigest() == APPLIED_MIGRATIONS_SHA256, (
        "a migration existing databases applied was edited; add a new migration instead"
    )


def _without_comments(text: str) -> str:
    return re.sub(r"--[^\n]*", "", text)
