"""The guard's reads on a real PostgreSQL: each check reads only what was projected since the
last, nothing is lost when a transaction that began earlier commits later, a trade whose
assignment comes after it is read once both are there, repeats count once, and a projection
switching versions starts the tallies over. The tally always equals the sequential test over
every trade of the ``experiment_trades`` view."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from bridge.experiments import change_event
from core.database import connect
from core.settings import Settings
from domain.experiments.model import Experiment, ExperimentSpec, fold
from domain.experiments.report import ArmTrade, sequential_test
from projections.experiment_reads import Tallies, horizon, new_trades
from projections.migrate import migrate
from projections.projector import ensure_partition
from schemas.events import ExperimentAction, ExperimentArm

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def _experiment(name: str = "x1") -> Experiment:
    spec = ExperimentSpec(experiment_id=name, strategy="Breakout", control_variant="v1",
                          treatment_variant="v2")  # fmt: skip
    configured = change_event(name, ExperimentAction.CONFIGURED, actor="test", spec=spec, at=T0)
    return fold([configured]).get(name)


def _trade(conn: psycopg.Connection[Any], n: int, *, net: int, signal: str | None = None,
           source: str = "live") -> None:  # fmt: skip
    exit_time = T0 + timedelta(minutes=n)
    ensure_partition(conn, "trades_v1", date(exit_time.year, exit_time.month, 1))
    conn.execute(
        "INSERT INTO trades_v1 (trade_id, account, instrument, strategy, variant, signal_id,"
        " direction, quantity, entry_time, exit_time, entry_price, exit_price, point_value,"
        " currency, gross_pnl, commission, net_pnl, execution_ids, source, event_id,"
        " causation_ids, kafka_topic, kafka_partition, kafka_offset, ts_ingested)"
        " VALUES (%s, 'A', 'ES 03-26', 'Breakout', 'v1', %s, 'long', 1, %s, %s, 100, 101, 50,"
        " 'USD', %s, 0, %s, '{}', %s, %s, '{}', 't', 0, %s, %s)",
        (f"T{n}", signal or f"S{n}", exit_time - timedelta(minutes=1), exit_time,
         net, net, source, f"e{n}", n, exit_time),
    )  # fmt: skip


def _assign(conn: psycopg.Connection[Any], n: int, arm: ExperimentArm,
            experiment: str = "x1") -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO assignments_v1 (experiment_id, signal_id, strategy, arm, variant, step,"
        " treatment_percent, bucket, assigned_at, event_id, kafka_topic, kafka_partition,"
        " kafka_offset, ts_ingested) VALUES (%s, %s, 'Breakout', %s, 'v', 0, 50, 1, %s, %s,"
        " 'a', 0, %s, %s)",
        (experiment, f"S{n}", arm.value, T0, f"a{experiment}{n}", n, T0),
    )


def _all(conn: psycopg.Connection[Any], experiment: str = "x1") -> list[ArmTrade]:
    rows = conn.execute(
        "SELECT arm, exit_time, net_pnl, trade_id FROM experiment_trades WHERE experiment_id = %s",
        (experiment,),
    ).fetchall()
    return [ArmTrade(arm=ExperimentArm(a), exit_time=t, net_pnl=n, trade_id=i)
            for a, t, n, i in rows]  # fmt: skip


def _arm(n: int) -> ExperimentArm:
    return ExperimentArm.TREATMENT if n % 2 else ExperimentArm.CONTROL


def test_each_check_reads_what_is_new_and_loses_nothing(settings: Settings) -> None:
    migrate(settings)
    experiment = _experiment()
    tallies = Tallies()
    with connect(settings, autocommit=True) as conn, connect(settings) as slow:
        for n in range(30):
            _assign(conn, n, _arm(n))
            _trade(conn, n, net=(n * 37) % 50 - 20)
        _trade(conn, 99, net=5, source="paper", signal="S3")  # paper: not the experiment's
        _assign(conn, 40, ExperimentArm.TREATMENT, experiment="other")
        _trade(conn, 40, net=7)  # another experiment's
        tally = tallies.update(conn, experiment)
        assert len(tally) == 30
        assert tally.state == sequential_test(_all(conn))

        # a transaction that began before others commits after them: its row waits for it
        _trade(slow, 30, net=3)
        _assign(slow, 30, _arm(30))
        for n in range(31, 35):
            _assign(conn, n, _arm(n))
            _trade(conn, n, net=n - 40)
        assert len(tallies.update(conn, experiment)) == 30  # the horizon waits for `slow`
        slow.commit()
        assert len(tallies.update(conn, experiment)) == 35

        # a trade whose assignment comes later, and a late trade (closed before the others)
        _trade(conn, 35, net=11)
        assert len(tallies.update(conn, experiment)) == 35
        _assign(conn, 35, ExperimentArm.TREATMENT)
        _assign(conn, 36, ExperimentArm.CONTROL)
        conn.execute("UPDATE trades_v1 SET signal_id = 'S36' WHERE trade_id = 'T99'")  # paper
        _trade(conn, -5, net=-30, signal="S36")
        tally = tallies.update(conn, experiment)
        assert len(tally) == 37
        assert tally.state == sequential_test(_all(conn))
        assert tally.since(T0 + timedelta(minutes=30)) == {"control": 3, "treatment": 3}

        # nothing new: the same state; a read of everything again changes nothing either
        before = tally.state
        assert tallies.update(conn, experiment).state == before
        assert tally.add(new_trades(conn, "x1", "0", horizon(conn))) == 0
        assert tally.state == before


def test_a_version_switch_or_a_pause_in_checking_starts_a_tally_over(settings: Settings) -> None:
    migrate(settings)
    experiment = _experiment()
    tallies = Tallies()
    with connect(settings, autocommit=True) as conn:
        for n in range(12):
            _assign(conn, n, _arm(n))
            _trade(conn, n, net=n)
        first = tallies.update(conn, experiment)
        assert len(first) == 12
        # as a rebuild's switch does: the view reads another version's table
        conn.execute("CREATE TABLE trades_v2 (LIKE trades_v1 INCLUDING ALL)")
        conn.execute("INSERT INTO trades_v2 SELECT * FROM trades_v1 WHERE trade_id <> 'T0'")
        conn.execute(
            "INSERT INTO projection_versions (projection, version, state) VALUES ('trades', 2,"
            " 'kept')"
        )
        conn.execute("UPDATE projection_versions SET state = 'kept' WHERE projection = 'trades'")
        conn.execute(
            "UPDATE projection_versions SET state = 'live' WHERE projection = 'trades'"
            " AND version = 2"
        )
        (definition,) = conn.execute("SELECT pg_get_viewdef('trades')").fetchone() or ("",)
        conn.execute(
            "CREATE OR REPLACE VIEW trades AS " + definition.replace("trades_v1", "trades_v2")
        )
        again = tallies.update(conn, experiment)
        assert again is not first and len(again) == 11
        assert again.state == sequential_test(_all(conn))
        tallies.retain(["another"])  # an experiment no longer checked is forgotten
        anew = tallies.update(conn, experiment)
        assert anew is not again and anew.state == again.state


def test_the_projected_rows_and_the_views_carry_their_transaction(settings: Settings) -> None:
    migrate(settings)
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND a.attname = 'projected_xid'"
            " AND c.relkind IN ('p', 'r', 'v') ORDER BY 1"
        ).fetchall()
    assert {name for (name,) in rows} >= {"trades_v1", "assignments_v1", "trades", "assignments"}


def test_rows_restored_from_another_cluster_are_read_once(settings: Settings) -> None:
    migrate(settings)
    experiment = _experiment()
    with connect(settings, autocommit=True) as conn:
        for n in range(12):
            _assign(conn, n, _arm(n))
            _trade(conn, n, net=n - 6)
        # as a restore leaves them: projected by transactions this cluster has not reached
        conn.execute(
            "UPDATE trades_v1 SET projected_xid = (pg_current_xact_id()::text::bigint"
            " + 1000000)::text::xid8 WHERE trade_id IN ('T3', 'T4')"
        )
        tallies = Tallies()
        tally = tallies.update(conn, experiment)  # a first read takes them all
        assert len(tally) == 12 and tally.state == sequential_test(_all(conn))
        _assign(conn, 20, ExperimentArm.TREATMENT)
        _trade(conn, 20, net=9)
        assert len(tallies.update(conn, experiment)) == 13
        # when the horizon passes them, they are read again and counted once
        assert tally.add(new_trades(conn, "x1", "0", "18446744073709551615")) == 0
        assert tally.state == sequential_test(_all(conn))


def test_a_correction_starts_the_tallies_over_with_the_current_revisions(
    settings: Settings,
) -> None:
    migrate(settings)
    experiment = _experiment()
    tallies = Tallies()
    with connect(settings, autocommit=True) as conn:
        for n in range(12):
            _assign(conn, n, _arm(n))
            _trade(conn, n, net=n - 6)
        first = tallies.update(conn, experiment)
        assert len(first) == 12
        # revision 1 of T3 with another net, and T5 voided: rows of their own
        for trade_id, net, voided in (("T3", 40, False), ("T5", 0, True)):
            conn.execute(
                "INSERT INTO trades_v1 (trade_id, account, instrument, strategy, variant,"
                " signal_id, direction, quantity, entry_time, exit_time, entry_price,"
                " exit_price, point_value, currency, gross_pnl, commission, net_pnl,"
                " execution_ids, source, event_id, causation_ids, kafka_topic,"
                " kafka_partition, kafka_offset, ts_ingested, revision, supersedes, voided)"
                " SELECT trade_id, account, instrument, strategy, variant, signal_id,"
                " direction, quantity, entry_time, exit_time, entry_price, exit_price,"
                " point_value, currency, %s, commission, %s, execution_ids, source,"
                " event_id || '-r1', causation_ids, kafka_topic, kafka_partition,"
                " kafka_offset + 100, ts_ingested, 1, event_id, %s"
                " FROM trades_v1 WHERE trade_id = %s",
                (net, net, voided, trade_id),
            )
        again = tallies.update(conn, experiment)
        assert again is not first and len(again) == 11
        assert again.state == sequential_test(_all(conn))
        assert {t.trade_id: t.net_pnl for t in _all(conn)}["T3"] == 40
        assert tallies.update(conn, experiment) is again  # nothing corrected since
