"""Executions through every layer: bridge → raw topic → matching and performance stages →
projections."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from core.settings import Settings
from domain.performance.figures import DEFINITIONS_VERSION, Performance, TradeResult, summarize
from projections import PROJECTIONS
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess, end_offsets, execution, post, query
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration


class Pipeline:
    def __init__(self, settings: Settings, worker_args: tuple[str, ...] = ()) -> None:
        self.bridge = ServiceProcess(settings, "bridge", settings.bridge_port)
        self.worker = ServiceProcess(settings, "worker", settings.worker_port, worker_args)
        self.projector = ServiceProcess(settings, "project", settings.projector_port)

    def all(self) -> list[ServiceProcess]:
        return [self.bridge, self.worker, self.projector]


def running(settings: Settings, worker_args: tuple[str, ...] = ()) -> Iterator[Pipeline]:
    """The migrated database and the three services, stopped (their logs printed) afterwards."""
    migrate(settings)
    pipeline = Pipeline(settings, worker_args)
    try:
        for service in pipeline.all():
            service.start()
        yield pipeline
    finally:
        for service in pipeline.all():
            service.stop()
            print(
                f"----- {service.name} log -----\n{service.log_tail(60)}"
            )  # shown when a test fails


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def stored_locally(settings: Settings, stage: str) -> bool:
    """Whether a stage's local state store holds a record (``streams.runtime.store``)."""
    for path in (settings.home / "state" / settings.group(stage)).glob("*.sqlite"):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            try:
                if conn.execute("SELECT count(*) FROM entries").fetchone()[0]:
                    return True
            except sqlite3.OperationalError:  # created, its tables not yet
                continue
    return False


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def trade_count(settings: Settings) -> int:
    return int(query(settings, "SELECT count(*) FROM trades")[0][0])


def performance(
    settings: Settings, scope: str, key: str, window: str = "all_time"
) -> dict[str, Any]:
    """The performance view's row of one scope's window (empty when not projected yet)."""
    with psycopg.connect(settings.dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
        row = conn.execute(
            "SELECT * FROM performance WHERE scope = %s AND scope_key = %s AND time_window = %s",
            (scope, key, window),
        ).fetchone()
    return row or {}


def expected_performance(settings: Settings, account: str) -> Performance:
    """``summarize`` over the account's projected trades, in (exit time, trade id) order."""
    rows = query(
        settings,
        "SELECT exit_time, net_pnl, gross_pnl, trade_id FROM trades WHERE account = %s"
        " ORDER BY exit_time, trade_id",
        (account,),
    )
    return summarize([TradeResult(exit_time=e, net=n, gross=g, trade_id=t) for e, n, g, t in rows])


def test_a_round_trip_becomes_one_trade_with_exact_money(
    settings: Settings, pipeline: Pipeline
) -> None:
    status, body = post(
        settings,
        [
            execution("e-1", "buy", "21000.25", ts="2026-09-22T13:35:00Z", order_name="Entry"),
            execution(
                "e-2", "sell", "21010.75", ts="2026-09-22T13:41:30.25Z", order_name="Profit target"
            ),
        ],
    )
    assert (status, body) == (202, {"accepted": 2, "stored": "kafka"})

    wait_for(lambda: trade_count(settings) == 1, timeout=60, message="no trade projected")
    row = query(
        settings,
        "SELECT direction, quantity, entry_price, exit_price, gross_pnl, commission,"
        " net_pnl, source, execution_ids, exit_name FROM trades",
    )[0]
    assert row == (
        "long",
        1,
        Decimal("21000.25"),
        Decimal("21010.75"),
        Decimal("210"),
        Decimal("4.18"),
        Decimal("205.82"),
        "live",
        ["e-1", "e-2"],
        "Profit target",
    )
    details = query(
        settings,
        "SELECT fees, entry_name, exit_reason, points, ticks, duration FROM trades",
    )[0]
    assert details == (
        Decimal("0"), "Entry", "target", Decimal("10.5"), Decimal("42"),
        timedelta(minutes=6, seconds=30, microseconds=250_000),
    )  # fmt: skip
    scraped = {service.name: scrape(service.health_port) for service in pipeline.all()}
    assert 'fillstream_bridge_events_accepted_total{type="execution"} 2.0' in scraped["bridge"]
    assert 'fillstream_stream_events_total{outcome="applied"' in scraped["worker"]
    assert "fillstream_stream_trades_closed_total 1.0" in scraped["worker"]
    assert 'fillstream_projector_rows_written_total{projection="trades"} 1.0' in scraped["project"]
    lineage = query(settings, "SELECT kafka_topic, causation_ids FROM trades_v1")[0]
    assert lineage[0] == settings.topic("derived.trades")
    assert len(lineage[1]) == 2 and all(c.startswith("x-") for c in lineage[1])

    wait_for(
        lambda: len(query(settings, "SELECT 1 FROM performance")) == 6,
        timeout=60,
        message="expected 3 windows of the account and the instrument scopes",
    )
    account = performance(settings, "account", "Sim101")
    assert (account["trades"], account["net_profit"], account["win_rate"]) == (
        1, Decimal("205.82"), 1.0,
    )  # fmt: skip
    assert (account["currency"], account["sqn_basis"], account["definitions_version"]) == (
        "USD", "net-pnl", DEFINITIONS_VERSION,
    )  # fmt: skip
    day = performance(settings, "instrument", "Sim101|NQ 12-26", "trading_day")
    assert (day["window_key"], day["trades"], day["gross_profit"]) == (
        "2026-09-22", 1, Decimal("205.82"),
    )  # fmt: skip
    rolling = performance(settings, "instrument", "Sim101|NQ 12-26", "last_trades")
    assert rolling["window_key"] == "100" and rolling["as_of_trade_id"] == account["as_of_trade_id"]


def test_the_same_execution_twice_yields_one_trade(settings: Settings, pipeline: Pipeline) -> None:
    entry = execution("d-1", "buy", "21000.00", quantity=2)
    exit_ = execution("d-2", "sell", "21001.00", quantity=2)
    for body in (
        [entry, exit_],
        [entry],
        [exit_, entry],
        [exit_],
    ):  # NinjaTrader re-sends after a reconnect
        assert post(settings, body)[0] == 202
    # a later round trip on the same key comes after the duplicates (one partition, in order)
    assert (
        post(settings, [execution("d-3", "sell", "21002.00"), execution("d-4", "buy", "21001.50")])[
            0
        ]
        == 202
    )

    wait_for(lambda: trade_count(settings) == 2, timeout=60, message="expected two trades")
    rows = query(
        settings, "SELECT direction, quantity, gross_pnl FROM trades ORDER BY entry_time, trade_id"
    )
    assert sorted(rows) == [("long", 2, Decimal("40")), ("short", 1, Decimal("10"))]
    assert (
        sum(end_offsets(settings, "raw.executions").values()) == 8
    )  # all deliveries are in the log


def test_killing_worker_and_projector_midstream_loses_and_doubles_nothing(
    settings: Settings, pipeline: Pipeline
) -> None:
    trades, accounts = 1000, ["A1", "A2", "A3", "A4"]
    events = []
    for n in range(trades):
        account = accounts[n % len(accounts)]
        events.append(
            execution(
                f"k-{n}-in",
                "buy",
                "100.00",
                account=account,
                instrument="ES 12-26",
                ts=f"2026-09-22T14:{n // 60 % 60:02d}:{n % 60:02d}Z",
                commission="1.00",
            )
        )
        events.append(
            execution(
                f"k-{n}-out",
                "sell",
                "100.25",
                account=account,
                instrument="ES 12-26",
                ts=f"2026-09-22T14:{n // 60 % 60:02d}:{n % 60:02d}.5Z",
                commission="1.00",
            )
        )
    failures: list[object] = []
    killed = threading.Event()

    def feed() -> None:
        for start in range(0, len(events), 100):
            if start == len(events) // 2:
                killed.wait(120)  # the second half only once the kill is done: always midstream
            status, body = post(settings, events[start : start + 100])
            if status != 202:
                failures.append((status, body))

    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_for(
        lambda: trade_count(settings) >= 100, timeout=90, message="pipeline did not start flowing"
    )
    # the local store is written after each commit: kill once it holds some of the books
    wait_for(lambda: stored_locally(settings, "streams.matching"), timeout=60,
             message="the matching stage never wrote its local state store")  # fmt: skip
    pipeline.worker.kill()
    pipeline.projector.kill()
    killed_at = trade_count(settings)
    killed.set()
    pipeline.worker.start()
    pipeline.projector.start()
    feeder.join(timeout=120)
    assert not failures

    wait_for(
        lambda: trade_count(settings) >= trades,
        timeout=180,
        interval=0.5,
        message=f"only {trade_count(settings)} of {trades} trades projected",
    )
    count, distinct, net = query(
        settings, "SELECT count(*), count(DISTINCT trade_id), sum(net_pnl) FROM trades"
    )[0]
    assert killed_at < trades, "the kill happened after everything had flowed; nothing was tested"
    assert count == distinct == trades
    assert net == Decimal("10.50") * trades  # 0.25 points * $50 - $2.00 commission, exactly
    entry_ids = {row[0][0] for row in query(settings, "SELECT execution_ids FROM trades")}
    assert entry_ids == {f"k-{n}-in" for n in range(trades)}

    # the performance ledgers survived the kill too: each account's figures are those of its
    # projected trades, each counted once
    wait_for(
        lambda: all(
            performance(settings, "account", a).get("scope_trades") == 250 for a in accounts
        ),
        timeout=120,
        interval=0.5,
        message="the performance figures of some account never counted its 250 trades",
    )
    for account in accounts:
        row, expected = (
            performance(settings, "account", account),
            expected_performance(settings, account),
        )
        for name in ("trades", "wins", "net_profit", "max_drawdown", "trading_days", "sqn"):
            assert row[name] == getattr(expected, name), name
    # and the restarted matching stage (which had committed books before the kill: trades were
    # projected) read them back from its local store, plus what the changelog had beyond it
    restored = [
        line
        for line in scrape(settings.worker_port).splitlines()
        if line.startswith("fillstream_stream_restored_records_total{")
    ]
    local = {
        line.split('stage="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in restored
        if 'source="local"' in line
    }
    assert local.get("matching", 0) > 0, restored


def test_matching_in_three_processes_shares_the_partitions_and_survives_a_restart(
    settings: Settings,
) -> None:
    """Three matching processes (one per partition, as on a machine with four cores or more),
    restarted midway: partitions and their local state stores change hands, and every trade is
    still derived exactly once."""
    round_trips, accounts = 240, [f"M{n}" for n in range(8)]
    events = []
    for n in range(round_trips):
        account, second = accounts[n % len(accounts)], n % 60
        for side, price, part in (("buy", "100.00", "in"), ("sell", "100.50", "out")):
            ts = f"2026-09-22T15:{n // 60:02d}:{second:02d}{'.5' if part == 'out' else ''}Z"
            events.append(
                execution(
                    f"m-{n}-{part}", side, price, account=account, instrument="ES 12-26", ts=ts
                )
            )
    with contextlib.contextmanager(running)(settings, ("--matching-processes", "3")) as pipeline:
        assert pipeline.worker.process is not None
        half = len(events) // 2
        for start in range(0, half, 60):
            assert post(settings, events[start : start + 60])[0] == 202
        wait_for(lambda: trade_count(settings) >= 30, timeout=90, message="nothing flowed")
        pipeline.worker.stop()
        pipeline.worker.start()
        for start in range(half, len(events), 60):
            assert post(settings, events[start : start + 60])[0] == 202
        wait_for(
            lambda: trade_count(settings) >= round_trips,
            timeout=120,
            interval=0.5,
            message=f"only {trade_count(settings)} of {round_trips} trades projected",
        )
        count, distinct, net = query(
            settings, "SELECT count(*), count(DISTINCT trade_id), sum(net_pnl) FROM trades"
        )[0]
        assert count == distinct == round_trips
        assert net == (Decimal("25.00") - Decimal("4.18")) * round_trips  # 0.5 pt x $50 - fees
        assert "3 matching" in pipeline.worker.log_tail(200)


def test_projections_list_shows_versions_rows_and_lag(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    from fillstream.commands.projections import main as projections_main
    from projections.listing import list_projections

    trips = [("l-1", "21000.00", "21002.00"), ("l-2", "21001.00", "20999.50")]
    events = []
    for n, (trade, entry, exit_) in enumerate(trips):
        events.append(execution(f"{trade}-in", "buy", entry, ts=f"2026-09-22T13:3{n}:00Z"))
        events.append(execution(f"{trade}-out", "sell", exit_, ts=f"2026-09-22T13:3{n}:30Z"))
    assert post(settings, events)[0] == 202

    def settled() -> bool:
        states = {s.name: s for s in list_projections(settings)}
        return states["trades"].rows == 2 and all(s.lag == 0 for s in states.values())

    wait_for(settled, timeout=90, interval=0.5, message="the projections never caught up")
    states = {s.name: s for s in list_projections(settings)}
    assert set(states) == {p.name for p in PROJECTIONS}
    assert (states["executions"].rows, states["orders"].rows) == (4, 0)
    assert (states["trades"].live_version, states["trades"].table) == (1, "trades_v1")
    assert all(s.state == "live" and s.version == 1 for s in states.values())
    assert states["positions"].rows == 1 and states["market_bars"].rows == 0
    assert states["performance"].rows == len(query(settings, "SELECT 1 FROM performance"))
    assert states["trades"].updated_at is not None

    for name, value in settings.to_env().items():
        os.environ[name] = value
    try:
        assert projections_main(["list"]) == 0
    finally:
        for name in settings.to_env():
            os.environ.pop(name, None)
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "projection", "version", "state", "table", "rows", "lag", "last", "stored",
    ]  # fmt: skip
    assert rows[0].split()[:6] == ["trades", "v1", "live", "trades_v1", "2", "0"]


def order(order_id: str, state: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "order", "ts_event": ts, "source": "live", "producer": "tests",
        "order_id": order_id, "account": "Sim101", "instrument": "NQ 12-26", "side": "buy",
        "order_type": "limit", "state": state, "quantity": 2, "limit_price": "21000.25",
        "order_name": "Entry", **fields,
    }  # fmt: skip


def test_executions_and_orders_are_projected_once_with_their_lineage(
    settings: Settings, pipeline: Pipeline
) -> None:
    fills = [
        execution("x-1", "buy", "21000.25", quantity=2, ts="2026-09-22T13:35:00.100Z",
                  order_id="o-1", order_name="Entry", strategy="Breakout"),
        execution("x-2", "sell", "21004.00", quantity=2, ts="2026-09-22T13:36:00Z",
                  order_id="o-2", order_name="Profit target", strategy="Breakout"),
    ]  # fmt: skip
    updates = [
        order("o-1", "working", "2026-09-22T13:34:59Z"),
        order("o-1", "filled", "2026-09-22T13:35:00.200Z", filled=2,
              average_fill_price="21000.25"),
        order("o-1", "working", "2026-09-22T13:34:59.500Z"),  # late and older: ignored
    ]  # fmt: skip
    assert post(settings, fills + updates)[0] == 202
    assert post(settings, fills[:1])[0] == 202  # redelivered: still one row

    def projected() -> bool:
        orders = query(settings, "SELECT state FROM orders WHERE order_id = 'o-1'")
        return len(query(settings, "SELECT 1 FROM executions")) == 2 and orders == [("filled",)]

    wait_for(projected, timeout=60, interval=0.3, message="executions or orders not projected")
    row = query(
        settings,
        "SELECT side, quantity, price, commission, order_id, order_name, strategy, time, source,"
        " kafka_topic FROM executions WHERE execution_id = 'x-1'",
    )[0]
    assert row[:7] == ("buy", 2, Decimal("21000.25"), Decimal("2.09"), "o-1", "Entry", "Breakout")
    assert row[7].isoformat() == "2026-09-22T13:35:00.100000+00:00"
    assert row[8:] == ("live", settings.topic("raw.executions"))
    order_row = query(
        settings,
        "SELECT state, filled, average_fill_price, limit_price, order_type, updated FROM orders",
    )
    assert [r[:5] for r in order_row] == [
        ("filled", 2, Decimal("21000.25"), Decimal("21000.25"), "limit")
    ]
    # lineage: a trade's executions, by the ids it names
    wait_for(lambda: trade_count(settings) == 1, timeout=60, message="no trade")
    traced = query(
        settings,
        "SELECT e.execution_id, e.kafka_topic, e.kafka_partition, e.kafka_offset"
        " FROM trades t JOIN executions e"
        " ON e.account = t.account AND e.execution_id = ANY (t.execution_ids)"
        " ORDER BY e.time",
    )
    assert [r[0] for r in traced] == ["x-1", "x-2"]
    assert all(r[1] == settings.topic("raw.executions") and r[3] >= 0 for r in traced)


def test_a_malformed_payload_is_rejected_and_nothing_reaches_kafka(
    settings: Settings, pipeline: Pipeline
) -> None:
    bad = execution("m-1", "buy", "-21000.25")
    bad["quantity"] = "two"
    del bad["account"]
    status, body = post(settings, [execution("m-0", "buy", "21000.00"), bad])
    assert status == 422
    assert {"field": "[1].price", "reason": "must be positive, was -21000.25"} in body["errors"]
    assert {"field": "[1].account", "reason": "is required"} in body["errors"]
    assert any(e["field"] == "[1].quantity" for e in body["errors"])

    assert post(settings, None, raw=b'{"type": "execution", ')[0] == 400
    assert post(settings, execution("m-2", "buy", "1"), token="wrong-token-wrong-token")[0] == 401
    assert post(settings, execution("m-3", "buy", "1"), content_type="text/plain")[0] == 415
    assert post(settings, {"type": "teleport", "ts_event": "2026-09-22T13:35:00Z"})[0] == 422
    assert sum(end_offsets(settings, "raw.executions").values()) == 0


@pytest.fixture
def average_cost_pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(dataclasses.replace(settings, matching="average-cost"))


def test_the_worker_matches_at_average_cost_when_configured(
    settings: Settings, average_cost_pipeline: Pipeline
) -> None:
    status, _ = post(
        settings,
        [
            execution("a-1", "buy", "21000", ts="2026-09-22T13:35:00Z"),
            execution("a-2", "buy", "21001.25", ts="2026-09-22T13:36:00Z"),
            execution("a-3", "sell", "21002", ts="2026-09-22T13:37:00Z", quantity=2),
        ],
    )
    assert status == 202
    wait_for(lambda: trade_count(settings) == 1, timeout=60, message="no trade projected")
    row = query(settings, "SELECT quantity, entry_price, gross_pnl, execution_ids FROM trades")[0]
    assert row == (2, Decimal("21000.625"), Decimal("55.00"), ["a-1", "a-2", "a-3"])


def bar(close_time: str, high: str, low: str, close: str) -> dict[str, Any]:
    return {
        "type": "bar", "ts_event": close_time, "source": "live", "producer": "tests",
        "instrument": "NQ 12-26", "period": "1 Minute",
        "open": low, "high": high, "low": low, "close": close, "volume": 100,
    }  # fmt: skip


def test_market_context_marks_open_positions_and_measures_trades(
    settings: Settings, pipeline: Pipeline
) -> None:
    signal = {
        "type": "signal", "ts_event": "2026-09-22T14:00:05Z", "source": "live",
        "producer": "tests", "signal_id": "sig-9", "account": "Sim101",
        "instrument": "NQ 12-26", "strategy": "Breakout", "direction": "long",
        "intended_stop": "20980",
    }  # fmt: skip
    entry = execution(
        "m-1", "buy", "21000", ts="2026-09-22T14:00:10Z", signal_id="sig-9", strategy="Breakout"
    )
    assert post(settings, [signal, entry])[0] == 202
    bars = [
        bar("2026-09-22T14:01:00Z", "21010", "20995", "21005"),
        bar("2026-09-22T14:02:00Z", "21020", "20990", "21015"),
        bar("2026-09-22T14:02:00Z", "21100", "20900", "21000") | {"period": "5 Minute"},
    ]
    assert post(settings, bars)[0] == 202

    def open_position() -> tuple[Any, ...] | None:
        rows = query(
            settings,
            "SELECT quantity, average_price, initial_stop, last_price, unrealized_pnl, mae, mfe,"
            " strategy FROM positions WHERE account = 'Sim101'",
        )
        return rows[0] if rows and rows[0][3] == Decimal("21015") else None

    wait_for(lambda: open_position() is not None, timeout=60, message="no marked position")
    # NQ: $20 a point; marked at the last 1-minute close, excursions from its bars since entry
    assert open_position() == (
        1, Decimal("21000"), Decimal("20980"), Decimal("21015"),
        Decimal("300"), Decimal("200"), Decimal("400"), "Breakout",
    )  # fmt: skip

    exit_ = execution("m-2", "sell", "21005", ts="2026-09-22T14:02:30Z", strategy="Breakout")
    assert post(settings, [exit_])[0] == 202
    wait_for(lambda: trade_count(settings) == 1, timeout=60, message="no trade projected")
    trade = query(settings, "SELECT mae, mfe, initial_stop, risk, r_multiple, net_pnl FROM trades")
    assert trade == [
        (Decimal("200"), Decimal("400"), Decimal("20980"), Decimal("400"),
         Decimal("0.23955"), Decimal("95.82")),
    ]  # fmt: skip
    wait_for(
        lambda: not query(settings, "SELECT 1 FROM positions"),
        timeout=60,
        message="the closed position is still listed as open",
    )
    flat = query(settings, "SELECT quantity, realized_pnl, sequence FROM positions_v1")
    assert flat == [(0, Decimal("95.82"), 2)]


def test_only_the_latest_position_change_of_a_batch_is_decoded(
    settings: Settings, pipeline: Pipeline
) -> None:
    fills = [
        execution(f"p-{n}", "buy", "21000", ts=f"2026-09-22T14:00:{n:02d}Z") for n in range(30)
    ]
    assert post(settings, fills)[0] == 202
    wait_for(
        lambda: query(settings, "SELECT quantity, sequence FROM positions_v1") == [(30, 30)],
        timeout=60,
        message="the position did not reach 30 contracts",
    )
    scraped = scrape(settings.projector_port)
    outcomes = {
        outcome: sum(
            float(line.rsplit(" ", 1)[1])
            for line in scraped.splitlines()
            if line.startswith("fillstream_projector_events_total{")
            and 'projection="positions"' in line
            and f'outcome="{outcome}"' in line
        )
        for outcome in ("projected", "superseded")
    }
    assert outcomes["projected"] + outcomes["superseded"] == 30
    assert outcomes["superseded"] > 0  # one post, so few batches
