"""Versioned rebuilds (blue/green) against a real broker and database: a rebuild without
changes switches to identical tables while the running projector follows the view; changed
numbers stop at the parity gate until accepted; kept versions switch back; --until builds the
projection as known at a moment; verify measures the share of identical rows; an interrupted
rebuild resumes; with no projector running, the rebuild brings the live version along."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from core.database import connect
from core.settings import Settings
from projections import PERFORMANCE, PROJECTIONS, TRADES, versions
from projections import rebuild as rebuild_module
from projections.errors import RebuildError, VersionError
from projections.migrate import migrate
from projections.projection import Location
from projections.rebuild import drop, rebuild, switch, verify
from projections.trades import TRADE_ROW
from schemas.events import Event
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_performance_projection import publish, snapshot_of
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def round_trips(prefix: str, count: int, minute: int = 0) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        at = f"2026-09-22T14:{minute + n:02d}"
        events.append(execution(f"{prefix}{n}-in", "buy", "21000", ts=f"{at}:00Z"))
        events.append(execution(f"{prefix}{n}-out", "sell", f"{21001 + n}", ts=f"{at}:30Z"))
    return events


def trades(settings: Settings, view: str = "trades") -> list[tuple[Any, ...]]:
    return query(settings, f"SELECT trade_id, net_pnl FROM {view} ORDER BY trade_id")


def registry(settings: Settings, name: str) -> dict[int, str]:
    rows = query(
        settings,
        "SELECT version, state FROM projection_versions WHERE projection = %s",
        (name,),
    )
    return {version: state for version, state in rows}


def index_definitions(settings: Settings, table: str) -> set[str]:
    rows = query(settings, "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                 " AND tablename = %s", (table,))  # fmt: skip
    return {d for (d,) in rows}


def table_exists(settings: Settings, table: str) -> bool:
    return bool(query(settings, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0])


def wait_trades(settings: Settings, count: int) -> None:
    wait_for(
        lambda: len(trades(settings)) == count,
        timeout=90,
        interval=0.3,
        message=f"expected {count} trades, have {len(trades(settings))}",
    )


def test_a_rebuild_switches_to_identical_tables_and_the_projector_follows(
    settings: Settings, pipeline: Pipeline
) -> None:
    said: list[str] = []
    assert post(settings, round_trips("a", 3))[0] == 202
    wait_trades(settings, 3)
    before = trades(settings)
    indexes = index_definitions(settings, "trades_v1")
    assert len(indexes) == 11  # the key and ten more (signal_id: 0013, projected_xid: 0016,
    # the revisions after the first: 0020, the pages by exit and by net P&L: 0021)

    outcome = rebuild(settings, TRADES, say=said.append)
    assert index_definitions(settings, "trades_v2") == {
        d.replace("trades_v1", "trades_v2") for d in indexes
    }  # built after the rows, the same as the live version's
    assert (outcome.version, outcome.state) == (2, "live")
    assert outcome.parity is not None and outcome.parity.same
    assert outcome.parity.old_rows == outcome.parity.new_rows == 3
    assert outcome.parity.sums["net_pnl"][0] == outcome.parity.sums["net_pnl"][1]
    assert trades(settings) == before
    assert registry(settings, "trades") == {1: "dropped", 2: "live"}
    assert not table_exists(settings, "trades_v1")
    assert any("dropped trades_v1" in line for line in said)

    # the running projector now writes version 2: new trades reach the view
    assert post(settings, round_trips("b", 2, minute=10))[0] == 202
    wait_trades(settings, 5)
    assert len(query(settings, "SELECT 1 FROM trades_v2")) == 5
    assert "projecting trades into version 2" in pipeline.projector.log_tail(400)

    # --keep-old: version 2 stays and switching back to it is a catch-up, not a rebuild
    kept = rebuild(settings, TRADES, keep_old=True, say=said.append)
    assert (kept.version, kept.state) == (3, "live")
    assert registry(settings, "trades") == {1: "dropped", 2: "kept", 3: "live"}
    assert post(settings, round_trips("c", 1, minute=20))[0] == 202
    wait_trades(settings, 6)
    back = switch(settings, TRADES, 2, say=said.append)
    assert back.state == "live" and back.parity is not None and back.parity.same
    assert back.records <= 2 * 3  # only what arrived since the switch (records, markers aside)
    assert registry(settings, "trades") == {1: "dropped", 2: "live", 3: "dropped"}
    assert len(trades(settings)) == 6

    with pytest.raises(RebuildError, match="serves trades"):
        drop(settings, TRADES, 2)


def doubled(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    """The trades' rows with every net PnL doubled: a deliberate change of the numbers."""
    at = TRADES.columns.index("net_pnl")
    return [(*row[:at], row[at] * 2, *row[at + 1 :]) for row in TRADE_ROW.to_rows(event, where)]


def test_changed_numbers_stop_at_the_parity_gate_until_accepted(
    settings: Settings, pipeline: Pipeline
) -> None:
    assert post(settings, round_trips("d", 2))[0] == 202
    wait_trades(settings, 2)
    before = trades(settings)
    changed = replace(TRADES, to_rows=doubled, row=None)

    outcome = rebuild(settings, changed, say=lambda _: None)
    assert (outcome.version, outcome.state) == (2, "built")
    parity = outcome.parity
    assert parity is not None and not parity.same
    assert (parity.changed, parity.only_old, parity.only_new, parity.identical) == (2, 0, 0, 0)
    assert parity.accuracy == 0.0
    old_sum, new_sum = parity.sums["net_pnl"]
    assert old_sum is not None and new_sum == 2 * old_sum
    assert {d.columns for d in parity.first} == {("net_pnl",)}
    assert trades(settings) == before  # not switched
    assert registry(settings, "trades") == {1: "live", 2: "built"}

    accepted = switch(settings, changed, 2, accept_diff=True, keep_old=True, say=lambda _: None)
    assert accepted.state == "live"
    assert trades(settings) == [(t, 2 * net) for t, net in before]
    assert registry(settings, "trades") == {1: "kept", 2: "live"}


def test_until_builds_the_projection_as_known_at_a_moment(
    settings: Settings, pipeline: Pipeline
) -> None:
    assert post(settings, round_trips("e", 2))[0] == 202
    wait_trades(settings, 2)
    known = trades(settings)
    moment = datetime.now(UTC)
    assert post(settings, round_trips("f", 2, minute=10))[0] == 202
    wait_trades(settings, 4)

    outcome = rebuild(settings, TRADES, until=moment, say=lambda _: None)
    assert (outcome.version, outcome.state) == (2, "as_of")
    assert trades(settings, "trades_as_of_v2") == known
    assert len(trades(settings)) == 4  # the live view is untouched
    assert registry(settings, "trades") == {1: "live", 2: "as_of"}
    # as-of versions are not caught up by later rebuilds: the next one is version 3
    assert rebuild(settings, TRADES, say=lambda _: None).version == 3
    assert trades(settings, "trades_as_of_v2") == known


def test_verify_reports_the_share_of_identical_rows_and_the_first_differences(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    from fillstream.commands.verify import main as verify_main

    assert post(settings, round_trips("g", 4))[0] == 202
    wait_trades(settings, 4)
    clean = verify(settings, TRADES, say=lambda _: None)
    assert clean.parity is not None and clean.parity.same and clean.parity.accuracy == 1.0
    assert registry(settings, "trades") == {1: "live", 2: "dropped"}

    edited, deleted = trades(settings)[0][0], trades(settings)[3][0]
    with connect(settings) as conn:
        conn.execute("UPDATE trades_v1 SET net_pnl = net_pnl + 1 WHERE trade_id = %s", (edited,))
        conn.execute("DELETE FROM trades_v1 WHERE trade_id = %s", (deleted,))
    damaged = verify(settings, TRADES, say=lambda _: None)
    parity = damaged.parity
    assert parity is not None and not parity.same
    assert (parity.identical, parity.changed, parity.only_new, parity.only_old) == (2, 1, 1, 0)
    assert parity.accuracy == 0.5
    kinds = {d.kind: d for d in parity.first}
    assert kinds["changed"].key[0] == edited and kinds["changed"].columns == ("net_pnl",)
    assert kinds["only_new"].key[0] == deleted  # the key: (trade_id, exit_time)

    for name, value in settings.to_env().items():
        os.environ[name] = value
    try:
        assert verify_main(["trades"]) == 1
    finally:
        for name in settings.to_env():
            os.environ.pop(name, None)
    out = capsys.readouterr().out
    assert "50.0000% of rows identical" in out and "changed" in out


def test_an_interrupted_rebuild_resumes_and_with_no_projector_the_live_version_is_brought_along(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No projector runs: the live version has projected nothing when the rebuild starts."""
    migrate(settings)
    publish(settings, *(snapshot_of(f"A{n % 7}", n, str(n)) for n in range(1, 301)))

    stop = threading.Event()

    class InterruptAfter100:
        """Stands in for the progress line: Ctrl-C once 100 records are projected."""

        def __init__(self, *_: object) -> None:
            pass

        def __call__(self, done: int, total: int) -> None:
            if done >= 100:
                stop.set()

        def close(self) -> None:
            pass

    monkeypatch.setattr(rebuild_module, "BATCH_SIZE", 50)
    monkeypatch.setattr(rebuild_module, "ProgressLine", InterruptAfter100)
    with pytest.raises(RebuildError, match="interrupted; run it again"):
        rebuild(settings, PERFORMANCE, say=lambda _: None, stop=stop)
    assert registry(settings, "performance") == {1: "live", 2: "building"}
    (stored,) = query(
        settings, "SELECT sum(next_offset) FROM projection_offsets WHERE version = 2"
    )[0]
    assert 100 <= stored < 300
    monkeypatch.undo()

    said: list[str] = []
    outcome = rebuild(settings, PERFORMANCE, say=said.append)
    assert "performance: resuming the rebuild of performance_v2" in said
    assert (outcome.version, outcome.state) == (2, "live")
    assert outcome.parity is not None and outcome.parity.same
    assert outcome.parity.new_rows == 7  # one row per account: the newest snapshot of each
    assert outcome.records < 300 + 300  # version 2 resumed (v1 was brought along: 300)
    rows = dict(query(settings, "SELECT scope_key, scope_trades FROM performance"))
    assert rows == {f"A{k}": max(n for n in range(1, 301) if n % 7 == k) for k in range(7)}


def test_projection_keys_are_named_in_errors(settings: Settings) -> None:
    from projections.rebuild import by_name

    with pytest.raises(RebuildError, match="no projection named 'tardes'"):
        by_name(["tardes"])
    migrate(settings)
    with connect(settings) as conn, pytest.raises(VersionError, match="no version 9"):
        versions.get(conn, "trades", 9)


def test_a_large_catch_up_is_shared_among_processes_with_the_same_result(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections import parallel

    migrate(settings)
    publish(settings, *(snapshot_of(f"P{n % 11}", n, str(n)) for n in range(1, 401)))
    shared: list[int] = []
    original = parallel.catch_up

    def counting(*args: Any, **kwargs: Any) -> None:
        shared.append(len(args[2]))
        original(*args, **kwargs)

    monkeypatch.setattr(parallel, "PARALLEL_FROM", 1)
    monkeypatch.setattr(parallel, "catch_up", counting)
    outcome = rebuild(settings, PERFORMANCE, say=lambda _: None)
    assert shared and shared[0] >= 2  # several processes did the build
    assert outcome.state == "live" and outcome.parity is not None and outcome.parity.same
    rows = dict(query(settings, "SELECT scope_key, scope_trades FROM performance"))
    assert rows == {f"P{k}": max(n for n in range(1, 401) if n % 11 == k) for k in range(11)}


def test_rebuild_all_switches_every_projection_from_the_command_line(
    settings: Settings, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from fillstream.commands.projections import main as projections_main

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    from tests.integration.test_backup import settled

    assert post(settings, round_trips("k", 2))[0] == 202
    wait_trades(settings, 2)
    wait_for(settled(settings), timeout=90, interval=2.0, message="never settled")
    views = {v: view_rows(settings, v) for v in VIEWS}

    assert projections_main(["rebuild", "--all", "--json"]) == 0
    outcomes = json.loads(capsys.readouterr().out)
    assert {(o["projection"], o["version"], o["state"]) for o in outcomes} == {
        (name, 2, "live") for name in VIEWS
    }
    # every view reads its new version, the positions view through the market_bars view; the
    # processes' health checks keep coming, so that view has every row it had and maybe more
    after = {v: view_rows(settings, v) for v in VIEWS}
    assert set(views.pop("service_checks")) <= set(after.pop("service_checks"))
    assert after == views
    with pytest.raises(SystemExit):
        projections_main(["rebuild"])  # neither names nor --all


def view_rows(settings: Settings, view: str) -> list[str]:
    """A view's rows as JSON text, sorted, without when and by which transaction they were
    projected."""
    rows = query(
        settings,
        f"SELECT (to_jsonb(v) - 'projected_at' - 'projected_xid')::text FROM {view} v",
    )
    return sorted(text for (text,) in rows)


VIEWS = tuple(p.name for p in PROJECTIONS)
"""Every projection's view (named like the projection)."""
