"""Phases against a real broker, worker, projector and database: a phase's settings reach the
worker; rolling it back leaves the projections equal, row for row, to those of a system that
never ran it; the commands refuse what they cannot do safely."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from control.errors import OffsetsError
from control.phases import load_config, plan_rollback, rollback, start
from core.control_log import read_log
from core.database import connect
from core.errors import ConfigError, PhaseError
from core.kafka import ensure_topics
from core.settings import Settings
from fillstream.commands.offsets import main as offsets_main
from fillstream.commands.phase import main as phase_main
from projections import PERFORMANCE, POSITIONS, TRADES
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import free_ports, wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

# Columns that differ between two systems fed the same events at other moments: where each
# record sits in its own log, and when it was ingested or projected.
_SYSTEM = {"kafka_topic", "kafka_partition", "kafka_offset", "ts_ingested", "projected_at"}

BEFORE = [
    execution("r1-in", "buy", "21000", ts="2026-09-22T14:00:00Z"),
    execution("r1-out", "sell", "21002", ts="2026-09-22T14:00:30Z"),
    execution("l1", "buy", "21000", ts="2026-09-22T14:01:00Z"),
    execution("l2", "buy", "21004", ts="2026-09-22T14:02:00Z"),
]
DURING = [  # FIFO closes 21000 then 21004; average cost closes 21002 twice
    execution("s1", "sell", "21006", ts="2026-09-22T14:03:00Z"),
    execution("s2", "sell", "21008", ts="2026-09-22T14:04:00Z"),
]
AFTER = [
    execution("r3-in", "sell", "21010", ts="2026-09-22T14:05:00Z"),
    execution("r3-out", "buy", "21007", ts="2026-09-22T14:05:30Z"),
]


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


@pytest.fixture
def control(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second system, in a namespace of its own, that never runs the phase."""
    bridge, worker, projector = free_ports(3)
    other = dataclasses.replace(
        settings, namespace="c" + secrets.token_hex(5), home=tmp_path / "control",
        bridge_port=bridge, worker_port=worker, projector_port=projector,
    )  # fmt: skip
    other.home.mkdir()
    ensure_topics(other)
    for pipeline in running(other):
        assert post(other, BEFORE)[0] == 202
        wait_trades(other, 1)
        assert post(other, DURING)[0] == 202
        wait_trades(other, 3)
        assert post(other, AFTER)[0] == 202
        wait_trades(other, 4)
        wait_for(lambda: query(other, "SELECT count(*) FROM positions") == [(0,)], timeout=60,
                 message="the control system's positions did not settle")  # fmt: skip
        yield other
        del pipeline


def wait_trades(settings: Settings, count: int) -> None:
    wait_for(
        lambda: query(settings, "SELECT count(*) FROM trades") == [(count,)],
        timeout=120,
        interval=0.3,
        message=f"expected {count} trades: {query(settings, 'SELECT count(*) FROM trades')}",
    )


def contents(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The live rows of the derived projections, every column but the system's own."""
    out = {}
    with connect(settings) as conn:
        for p in (TRADES, POSITIONS, PERFORMANCE):
            (version,) = conn.execute(
                "SELECT version FROM projection_versions WHERE projection = %s"
                " AND state = 'live'", (p.name,)
            ).fetchone() or (None,)  # fmt: skip
            table = p.at(int(version)).table
            columns = [c for c in p.columns if c not in _SYSTEM]
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, p.key)),
                )
            ).fetchall()
            out[p.name] = rows
    return out


def entries(settings: Settings) -> list[tuple[Any, ...]]:
    return query(settings, "SELECT entry_price FROM trades ORDER BY exit_time")


def test_a_rolled_back_phase_leaves_the_projections_of_a_system_that_never_ran_it(
    settings: Settings, pipeline: Pipeline, control: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    said: list[str] = []
    config_file = tmp_path / "average-cost.toml"
    config_file.write_text('[settings]\nFILLSTREAM_MATCHING = "average-cost"\n')
    config = load_config(config_file)
    assert post(settings, BEFORE)[0] == 202
    wait_trades(settings, 1)
    wait_for(lambda: query(settings, "SELECT quantity FROM positions") == [(2,)], timeout=60,
             message="the open lots were not projected")  # fmt: skip

    with pytest.raises(PhaseError, match="the stream worker is running: stop it first"):
        start(settings, "average-cost", config, say=said.append)
    pipeline.worker.stop()
    start(settings, "average-cost", config, say=said.append)
    pipeline.worker.start()
    assert "phase average-cost active: FILLSTREAM_MATCHING=average-cost" in (
        pipeline.worker.log_tail(200)
    )
    assert post(settings, DURING)[0] == 202
    wait_trades(settings, 3)
    assert [e for (e,) in entries(settings)][1:] == [21002, 21002]  # the phase's matching

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert phase_main(["rollback", "average-cost"]) == 0  # the plan only: nothing changes
    assert [p.active for p in read_log(settings).phases()] == [True]
    plan = plan_rollback(settings, "average-cost")
    assert plan.settings == {"FILLSTREAM_MATCHING": ("average-cost", "fifo")}
    assert set(plan.moves) == {"streams.matching", "streams.scopes", "streams.performance"}
    assert {p.name for p in plan.projections} == {"trades", "positions", "performance"}
    assert sum(b - a for a, b in plan.void.values()) > 0

    pipeline.worker.stop()
    _, outcomes = rollback(settings, "average-cost", say=said.append, actor="test")
    assert {(o.projection, o.state) for o in outcomes} == {
        ("trades", "live"), ("positions", "live"), ("performance", "live"),
    }  # fmt: skip
    logged = len(pipeline.worker.log_path.read_text())
    pipeline.worker.start()  # healthy once it serves /healthz, before its stages start
    wait_for(
        lambda: "stream worker running" in pipeline.worker.log_path.read_text()[logged:],
        timeout=60,
        message="the worker did not start its stages",
    )
    assert "phase average-cost active" not in pipeline.worker.log_path.read_text()[logged:]
    assert post(settings, AFTER)[0] == 202

    expected = contents(control)
    wait_for(
        lambda: contents(settings) == expected,
        timeout=120,
        interval=0.5,
        message="after the rollback the projections differ from the control system's",
    )
    assert [e for (e,) in entries(settings)] == [21000, 21000, 21004, 21010]  # FIFO again
    assert [(p.name, p.active) for p in read_log(settings).phases()] == [("average-cost", False)]
    assert query(settings, "SELECT count(*) FROM executions") == [(8,)]  # raw events untouched


def test_phase_commands_refuse_what_they_cannot_do(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[settings]\nFILLSTREAM_TOKEN = "x"\n')
    with pytest.raises(ConfigError, match="FILLSTREAM_TOKEN is not a phase setting"):
        load_config(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[settings]\nFILLSTREAM_MATCHING = "lifo"\n')
    with pytest.raises(ConfigError, match="FILLSTREAM_MATCHING"):
        start(settings, "lifo", load_config(wrong), say=lambda _: None)
    with pytest.raises(ConfigError, match="^FILLSTREAM_REGIME version must be at least 1"):
        start(settings, "v0", {"FILLSTREAM_REGIME": "version=0"}, say=lambda _: None)
    with pytest.raises(PhaseError, match="not a phase name"):
        start(settings, "no spaces", {"FILLSTREAM_GRACE_MS": "50"}, say=lambda _: None)
    with pytest.raises(PhaseError, match="no active phase named 'nothing'"):
        plan_rollback(settings, "nothing")

    start(settings, "first", {"FILLSTREAM_GRACE_MS": "50"}, say=lambda _: None)
    start(settings, "second", {"FILLSTREAM_GRACE_MS": "70"}, say=lambda _: None)
    with pytest.raises(PhaseError, match="already active"):
        start(settings, "first", {"FILLSTREAM_GRACE_MS": "60"}, say=lambda _: None)
    with pytest.raises(PhaseError, match=r"started after first are active \(second\)"):
        plan_rollback(settings, "first")
    log = read_log(settings)
    assert log.overrides() == {"FILLSTREAM_GRACE_MS": "70"}

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(OffsetsError, match="no phase named 'later'"):
        offsets_main(["rewind", "streams.matching", "--to-phase", "later"])
