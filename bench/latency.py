"""Event time to projection at a steady 1,000 executions/s through the whole live path: the
bridge's HTTP API, the worker's stages and the projector, into PostgreSQL.

Executions are posted on one connection, a request every 10 ms with whatever is due (10 when on
time), paced against the wall clock; each carries as its event time the moment it was due (so a
sender that falls behind shows up as latency rather than hiding it), and the bridge stamps its
own ``ts_ingested`` on receipt. Every second execution of a position closes a trade. A trade's
latency is the commit time of its row (PostgreSQL's commit timestamp of the inserting
transaction, ``track_commit_timestamp``) minus its exit time, the closing execution's event
time. A performance snapshot's latency is the commit time of that version of its row minus the
newest exit time it counts; a trigger added by the benchmark keeps every version, since the
view only holds the latest. The first seconds (``WARM_UP``) are not measured.

The baseline is the same measure through one plain hop at the same rate: a producer with the
pipeline's producer settings, a consumer, and a PostgreSQL insert of each consumed batch.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import statistics
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.report import Result
from core.database import connect
from core.errors import ConfigError
from core.kafka import ensure_topics, producer_config
from core.settings import Settings
from deploy.postgres import LocalPostgres
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess, query
from tests.fixtures.services import free_ports, wait_for

RATE = 1000
"""Executions per second."""
INTERVAL = 0.01
"""Seconds between the starts of two requests, at least."""
MAX_BATCH = 500
"""Executions per request, at most (NinjaTrader's AddOn sends up to 500)."""
WARM_UP = 10.0
"""Seconds from the start not measured (joining groups, first transactions, caches)."""
GOAL_MS = 500.0
KEYS = [(f"A{a}", instrument) for a in range(8) for instrument in ("ES 12-26", "NQ 12-26")]

_VERSIONS = """
CREATE TABLE bench_performance_versions (last_exit timestamptz);
CREATE FUNCTION bench_performance_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_performance_versions (last_exit) VALUES (NEW.last_exit);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_performance_version AFTER INSERT OR UPDATE ON performance_v1
    FOR EACH ROW EXECUTE FUNCTION bench_performance_version();
"""
"""Every version of a performance row, committed in the projector's own transaction."""


class Latencies(NamedTuple):
    p50: float
    p99: float
    measured: int


class Load(NamedTuple):
    """What a paced sender achieved."""

    sent: int
    rate: float
    started: float
    """Wall-clock time (epoch seconds) the first message was due."""


class _Pace:
    """``RATE`` messages a second for ``seconds``: message ``n`` is due ``n / RATE`` seconds
    after the start, on the wall clock (sleeping per message would drift)."""

    def __init__(self, seconds: float) -> None:
        self.total = int(seconds * RATE)
        self.started_wall, self.started = time.time(), time.monotonic()

    def due(self, n: int) -> float:
        """When message ``n`` is due, in epoch seconds."""
        return self.started_wall + n / RATE

    def batches(self, most: int) -> Iterator[range]:
        """The messages due, at most ``most`` at a time and one batch every ``INTERVAL`` at
        most; a caller that was late gets everything due meanwhile at once."""
        sent = 0
        next_batch = self.started
        while sent < self.total:
            delay = next_batch - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing an open-loop sender, not waiting for a condition
            next_batch += INTERVAL
            due = min(self.total, sent + most, int((time.monotonic() - self.started) * RATE) + 1)
            yield range(sent, due)
            sent = due

    def load(self) -> Load:
        """What was achieved, once every batch is sent."""
        elapsed = time.monotonic() - self.started
        return Load(sent=self.total, rate=self.total / elapsed, started=self.started_wall)


def run(base: Settings, postgres: LocalPostgres) -> list[Result]:
    seconds = float(os.environ.get("FILLSTREAM_BENCH_LATENCY_SECONDS", "60"))
    if seconds <= WARM_UP:
        raise ConfigError(
            "FILLSTREAM_BENCH_LATENCY_SECONDS", f"must exceed {WARM_UP:g}, was {seconds:g}"
        )
    bridge_port, worker_port, projector_port = free_ports(3)
    settings = dataclasses.replace(
        base,
        namespace="benchlatency",
        home=base.home / "latency",
        bridge_port=bridge_port,
        worker_port=worker_port,
        projector_port=projector_port,
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    _track_commit_timestamps(postgres)
    ensure_topics(settings)
    migrate(settings)
    with connect(settings) as conn:
        conn.execute(_VERSIONS)
        conn.commit()

    baseline_seconds = min(seconds, 30.0)
    print(f"latency: baseline, plain hop at {RATE:,}/s for {baseline_seconds:g} s ...", flush=True)
    base_load, base_lat = _baseline(settings, baseline_seconds)
    print(f"latency: pipeline at {RATE:,} executions/s for {seconds:g} s ...", flush=True)
    with _pipeline(settings):
        load = _post_executions(settings, seconds)
        expected = sum(_closes(n) for n in range(load.sent))
        try:
            wait_for(lambda: min(_progress(settings)) >= expected, timeout=300, interval=0.5)
        except AssertionError as e:
            raise AssertionError(
                f"not all {expected} trades reached the projections within 300 s: "
                f"{_progress(settings)} (trades projected, counted in the figures)"
            ) from e
    measured_from = datetime.fromtimestamp(load.started + WARM_UP, UTC)
    trades = _latencies(
        settings,
        "SELECT exit_time, pg_xact_commit_timestamp(xmin) FROM trades_v1 WHERE exit_time >= %s",
        measured_from,
    )
    figures = _latencies(
        settings,
        "SELECT last_exit, pg_xact_commit_timestamp(xmin) FROM bench_performance_versions"
        " WHERE last_exit >= %s",
        measured_from,
    )
    _print_transaction_start(settings, measured_from)
    baseline_name = (
        "plain hop: producer (same settings) -> consumer -> PostgreSQL insert, same rate, "
        "same measure"
    )
    return [
        _result("trade latency p50 @1000 ex/s", trades.p50, base_lat.p50, baseline_name),
        _result("trade latency p99 @1000 ex/s", trades.p99, base_lat.p99, baseline_name),
        _result("performance latency p50", figures.p50, base_lat.p50, baseline_name),
        _result("performance latency p99", figures.p99, base_lat.p99, baseline_name),
        Result(
            name="latency: trades measured",
            value=trades.measured,
            unit="",
            baseline=base_lat.measured,
            baseline_name="messages measured through the plain hop",
            ratio=trades.measured / base_lat.measured,
            goal="report (no goal set)",
            met=True,
        ),
        Result(
            name="latency: executions posted/s",
            value=load.rate,
            unit="/s",
            baseline=base_load.rate,
            baseline_name="plain hop: messages produced/s",
            ratio=load.rate / base_load.rate,
            goal=">= 99 % of 1,000/s",
            met=load.rate >= 0.99 * RATE,
        ),
    ]


def _result(name: str, value: float, baseline: float, baseline_name: str) -> Result:
    p99 = "p99" in name
    return Result(
        name=name,
        value=value,
        unit="ms",
        baseline=baseline,
        baseline_name=baseline_name,
        ratio=value / baseline,
        goal=f"p99 < {GOAL_MS:g} ms" if p99 else "report (no goal set)",
        met=value < GOAL_MS if p99 else True,
    )


def _track_commit_timestamps(postgres: LocalPostgres) -> None:
    """Record every transaction's commit time (a server setting: needs a restart)."""
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        if conn.execute("SHOW track_commit_timestamp").fetchone() == ("on",):
            return
        conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    postgres.stop()
    postgres.start()


@contextmanager
def _pipeline(settings: Settings) -> Iterator[None]:
    """The bridge, the worker and the projector, stopped on exit whatever happens."""
    services = [
        ServiceProcess(settings, "bridge", settings.bridge_port),
        ServiceProcess(settings, "worker", settings.worker_port),
        ServiceProcess(settings, "project", settings.projector_port),
    ]
    try:
        for service in services:
            service.start()
        wait_for(
            lambda: _ready(settings.worker_port),
            timeout=60,
            message=f"worker stages not assigned:\n{services[1].log_tail()}",
        )
        yield
    finally:
        for service in services:
            service.stop()


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _post_executions(settings: Settings, seconds: float) -> Load:
    """Post ``RATE`` executions/s for ``seconds`` on one keep-alive connection, the way
    NinjaTrader's AddOn does but without its linger: a request every ``INTERVAL`` at most, with
    every execution due by then (more when the last request took longer), each stamped with the
    wall-clock time it was due."""
    connection = http.client.HTTPConnection(settings.bridge_host, settings.bridge_port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"}
    pace = _Pace(seconds)
    largest = 0
    for batch in pace.batches(MAX_BATCH):
        body = json.dumps([_execution(n, datetime.fromtimestamp(pace.due(n), UTC)) for n in batch])
        connection.request("POST", "/v1/events", body=body.encode(), headers=headers)
        response = connection.getresponse()
        payload = response.read()
        assert response.status == 202, payload
        largest = max(largest, len(batch))
    load = pace.load()
    connection.close()
    print(f"latency: posted {load.sent:,} executions, at most {largest} a request", flush=True)
    return load


def _execution(n: int, ts: datetime) -> dict[str, Any]:
    """The ``n``th fill: 16 positions (8 accounts, 2 instruments) in turn, each buying and
    selling one contract alternately, so every second fill of a position closes a trade."""
    account, instrument = KEYS[n % len(KEYS)]
    return {
        "type": "execution",
        "ts_event": ts.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "source": "live",
        "producer": "bench",
        "execution_id": f"lat-{n}",
        "account": account,
        "instrument": instrument,
        "side": "sell" if _closes(n) else "buy",
        "quantity": 1,
        "price": str(Decimal("5000.25") + Decimal((n * 7919) % 400) / 4),
        "commission": "1.29",
        "fees": "0.05",
    }


def _closes(n: int) -> bool:
    """Whether the ``n``th fill closes its position's trade (every position's second fill)."""
    return (n // len(KEYS)) % 2 == 1


def _progress(settings: Settings) -> tuple[int, int]:
    """Trades projected, and trades counted in the projected all-time figures of the accounts."""
    rows = query(
        settings,
        "SELECT (SELECT count(*) FROM trades_v1), (SELECT coalesce(sum(scope_trades), 0)"
        " FROM performance_v1 WHERE scope = 'account' AND time_window = 'all_time')",
    )
    return int(rows[0][0]), int(rows[0][1])


def _latencies(settings: Settings, statement: str, since: datetime) -> Latencies:
    """p50 and p99 (ms) of commit time minus event time over the rows ``statement`` selects."""
    rows = query(settings, statement, (since,))
    values = [(committed - happened).total_seconds() * 1000 for happened, committed in rows]
    if len(values) < 2:
        raise AssertionError(f"only {len(values)} rows measured: {statement}")
    return Latencies(
        p50=statistics.median(values),
        p99=statistics.quantiles(values, n=100, method="inclusive")[98],
        measured=len(values),
    )


def _print_transaction_start(settings: Settings, since: datetime) -> None:
    """For comparison: the trades' ``projected_at`` (the transaction's start, not its commit)."""
    rows = query(
        settings,
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM pg_xact_commit_timestamp(xmin) - projected_at))"
        " FROM trades_v1 WHERE exit_time >= %s",
        (since,),
    )
    p50, p99 = (v * 1000 for v in rows[0][0])
    print(f"latency: a trade's commit follows its projected_at by {p50:.1f} ms (p50), "
          f"{p99:.1f} ms (p99)")  # fmt: skip


def _baseline(settings: Settings, seconds: float) -> tuple[Load, Latencies]:
    """The same measure through one plain hop: produce at ``RATE``/s (the sent time as the
    value), consume, and insert each consumed batch in one transaction."""
    topic = settings.topic("bench-baseline")
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        future.result(30)
    with connect(settings) as conn:
        conn.execute("CREATE TABLE bench_baseline (sent_at timestamptz NOT NULL)")
        conn.commit()
    stop = threading.Event()
    consumer = threading.Thread(target=_consume_into_postgres, args=(settings, topic, stop))
    consumer.start()
    try:
        load = _produce(settings, topic, seconds)
        wait_for(
            lambda: query(settings, "SELECT count(*) FROM bench_baseline")[0][0] >= load.sent,
            timeout=60,
            message="the plain hop did not deliver every message",
        )
    finally:
        stop.set()
        consumer.join(30)
    warm_up = min(WARM_UP, seconds / 3)
    latencies = _latencies(
        settings,
        "SELECT sent_at, pg_xact_commit_timestamp(xmin) FROM bench_baseline WHERE sent_at >= %s",
        datetime.fromtimestamp(load.started + warm_up, UTC),
    )
    return load, latencies


def _produce(settings: Settings, topic: str, seconds: float) -> Load:
    """Produce ``RATE`` messages/s paced like the executions, each its due time as the value."""
    producer = Producer(producer_config(settings))
    pace = _Pace(seconds)
    for batch in pace.batches(RATE):
        for n in batch:
            account, instrument = KEYS[n % len(KEYS)]
            value = struct.pack("<d", pace.due(n))
            producer.produce(topic, key=f"{account}|{instrument}".encode(), value=value)
        producer.poll(0)
    load = pace.load()
    assert producer.flush(30) == 0
    return load


def _consume_into_postgres(settings: Settings, topic: str, stop: threading.Event) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("bench-baseline"),
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
    with connect(settings) as conn:
        while not stop.is_set():
            messages = consumer.consume(500, timeout=0.01)
            sent = [
                (datetime.fromtimestamp(struct.unpack("<d", m.value() or b"")[0], UTC),)
                for m in messages
                if m.error() is None
            ]
            if sent:
                with conn.transaction():
                    conn.cursor().executemany(
                        "INSERT INTO bench_baseline (sent_at) VALUES (%s)", sent
                    )
    consumer.close()
