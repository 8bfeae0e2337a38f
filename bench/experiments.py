"""The experiments' and regimes' figures: the assignment endpoint's p99 latency under load
(against the same server's /healthz at the same pace), the regime stage's labelling rate
(against decoding the same bars alone), the guard's check as the variant's history grows, and
its check of an experiment as the experiment's trades grow, and what `experiments show` computes
at 100,000 trades."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
from confluent_kafka import Producer

from bench.report import Result
from bridge.experiments import change, change_event
from control.guard import evaluate, treatment_figures
from core.database import connect
from core.kafka import producer_config
from core.settings import Settings
from domain.experiments.model import ExperimentSpec, fold
from domain.experiments.report import ArmTrade, report, sequential_test
from domain.experiments.rollout import RolloutTrade, rollout
from domain.performance.figures import TradeResult, trading_day
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, snapshot
from domain.regimes import RegimeParameters
from projections import PERFORMANCE
from projections.experiment_reads import Tallies
from projections.migrate import migrate
from projections.projector import Projector, ensure_partition
from projections.rebuild import log_end
from schemas.codec import default_codec
from schemas.events import (
    BarClosed,
    Envelope,
    EventId,
    ExperimentAction,
    ExperimentArm,
    MetricScope,
    MetricWindow,
)
from streams.runtime.deriver import Batch, Record
from streams.stages.regimes import LabelRegimes
from tests.fixtures.services import wait_for

RATE = 500
"""Requests per second, over all clients."""
CLIENTS = 4
SECONDS = 8
BARS = 60_000


def paced(
    settings: Settings, method: str, path: str, bodies: list[bytes], rate: int = RATE
) -> list[float]:
    """Latencies (s) of ``bodies`` sent open-loop at ``rate`` over CLIENTS keep-alive
    connections to the bridge of ``settings``."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"}
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection(settings.bridge_host, settings.bridge_port, 30)
        interval = CLIENTS / rate
        mine, next_at = [], time.perf_counter()
        for body in share:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing an open-loop load generator, not awaiting a condition
            started = time.perf_counter()
            connection.request(method, path, body=body if method == "POST" else None,
                               headers=headers)  # fmt: skip
            response = connection.getresponse()
            answer = response.read()
            assert response.status == 200, answer
            mine.append(time.perf_counter() - started)
            next_at += interval
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(bodies[i::CLIENTS],)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def p99_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def assignment_latency(settings: Settings) -> Result:
    spec = ExperimentSpec(
        experiment_id="bench", strategy="Bench", control_variant="a", treatment_variant="b",
        ramp=(50, 100),
    )  # fmt: skip
    change(settings, "bench", ExperimentAction.CONFIGURED, actor="bench", spec=spec)

    probe = json.dumps({"signal_id": "probe", "strategy": "Bench"}).encode()
    wait_for(lambda: _answer(settings, probe).get("experiment") == "bench", timeout=30,
             message="the bridge did not read the bench experiment")  # fmt: skip
    count = RATE * SECONDS
    warm = [json.dumps({"signal_id": f"w{i}", "strategy": "Bench"}).encode() for i in range(200)]
    paced(settings, "POST", "/v1/assignments", warm)
    bodies = [
        json.dumps({"signal_id": f"s{i}", "strategy": "Bench"}).encode() for i in range(count)
    ]
    p99 = p99_ms(paced(settings, "POST", "/v1/assignments", bodies))
    baseline = p99_ms(paced(settings, "GET", "/healthz", [b""] * count))
    return Result(
        name=f"assignment p99 @{RATE} req/s",
        value=p99,
        unit="ms",
        baseline=baseline,
        baseline_name=f"GET /healthz of the same bridge at {RATE} req/s",
        ratio=p99 / baseline,
        goal="p99 < 25 ms (each assignment stored in Kafka first)",
        met=p99 < 25,
    )


def _answer(settings: Settings, body: bytes) -> dict[str, object]:
    connection = http.client.HTTPConnection(settings.bridge_host, settings.bridge_port, 30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"}
    connection.request("POST", "/v1/assignments", body=body, headers=headers)
    answer: dict[str, object] = json.loads(connection.getresponse().read())
    return answer


def _bars() -> list[Record]:
    codec = default_codec()
    rng = np.random.default_rng(11)
    start = datetime(2026, 1, 5, 14, tzinfo=UTC)
    close = Decimal(21000)
    records = []
    for i in range(BARS):
        previous = close
        close = previous + Decimal(int(rng.standard_normal() * 8)) / 4
        high = max(previous, close) + Decimal(int(abs(rng.standard_normal()) * 8)) / 4
        low = min(previous, close) - Decimal(int(abs(rng.standard_normal()) * 8)) / 4
        at = start + timedelta(minutes=i)
        bar = BarClosed(
            envelope=Envelope(event_id=EventId(f"b{i}"), ts_event=at, ts_ingested=at,
                              producer="bench"),
            instrument=("NQ 12-26", "ES 12-26", "CL 01-27")[i % 3], period="1 Minute",
            open=previous, high=high, low=low, close=close, volume=100,
        )  # fmt: skip
        records.append(Record("raw.market", i % 3, i, bar.instrument.encode(), codec.encode(bar)))
    return records


def labelling_rate() -> Result:
    records = _bars()
    codec = default_codec()
    started = time.perf_counter()
    for record in records:
        codec.decode(record.value)
    baseline = len(records) / (time.perf_counter() - started)
    stage = LabelRegimes(codec, (RegimeParameters(),))
    started = time.perf_counter()
    for i in range(0, len(records), 2000):  # the deriver's batches
        stage.process(records[i : i + 2000], Batch())
    rate = len(records) / (time.perf_counter() - started)
    return Result(
        name="regime labelling",
        value=rate,
        unit="bars/s",
        baseline=baseline,
        baseline_name="decoding the same bars alone",
        ratio=rate / baseline,
        goal="≥ 10,000 bars/s (a year of 1-minute bars of 10 instruments, 3.6 M, in 6 min)",
        met=rate >= 10_000,
    )


def _variant_history(settings: Settings, days: int, strategy: str) -> None:
    """The performance projection of a treatment variant that traded once a day for ``days``
    days: its all-time row and a trading-day row per day."""
    start = datetime(2000, 1, 3, 15, tzinfo=UTC)
    scope = Scope(kind=MetricScope.VARIANT, key=f"A|{strategy}|v2", account="A",
                  strategy=strategy, variant="v2")  # fmt: skip
    ledger, events = Ledger(), []
    for n in range(days):
        at = start + timedelta(days=n)
        ledger.add(TradeResult(exit_time=at, net=Decimal(n % 7 - 3), gross=Decimal(n % 7 - 2),
                               trade_id=f"{strategy}-{n}", currency="USD"))  # fmt: skip
        events.append(snapshot(scope, MetricWindow.TRADING_DAY, trading_day(at).isoformat(),
                               ledger.day(trading_day(at)), n + 1))  # fmt: skip
    events.append(snapshot(scope, MetricWindow.ALL_TIME, "", ledger.all_time(), days))
    codec = default_codec()
    producer = Producer(producer_config(settings))
    for event in events:
        producer.produce(settings.topic("derived.performance"),
                         key=f"{event.scope_key}|{event.window.value}|{event.window_key}".encode(),
                         value=codec.encode(event))  # fmt: skip
        producer.poll(0)
    assert producer.flush(60) == 0
    Projector(settings, PERFORMANCE, codec).catch_up(log_end(settings, PERFORMANCE.topics))
    with connect(settings) as conn:  # as autovacuum would have by then
        conn.execute("ANALYZE performance_v1")
        conn.commit()


def guard_cost(settings: Settings) -> Result:
    """One guard check of an experiment begun yesterday, on a variant with 100 and with 5,000
    days of history before it: the check reads only the days since the experiment began."""
    migrate(settings)
    timings = {}
    for days in (100, 5000):
        strategy = f"Guard{days}"
        _variant_history(settings, days, strategy)
        spec = ExperimentSpec(experiment_id=f"g{days}", strategy=strategy, control_variant="v1",
                              treatment_variant="v2", max_drawdown=Decimal(10**9))  # fmt: skip
        begun = datetime(2000, 1, 3, tzinfo=UTC) + timedelta(days=days - 1)
        configured = change_event(spec.experiment_id, ExperimentAction.CONFIGURED,
                                  actor="bench", spec=spec, at=begun)  # fmt: skip
        experiment = fold([configured]).get(spec.experiment_id)
        with connect(settings) as conn:
            conn.prepare_threshold = None  # planned afresh, as on the connection of a check
            treatment_figures(conn, experiment)  # warm
            spent = []
            for _ in range(300):  # the median: a check takes well under a millisecond
                started = time.perf_counter()
                (figures,) = treatment_figures(conn, experiment)
                spent.append(time.perf_counter() - started)
            timings[days] = statistics.median(spent)
            assert len(figures.day_net) <= 2, figures
    return Result(
        name="guard check: 5,000 days of history",
        value=timings[5000] * 1000,
        unit="ms",
        baseline=timings[100] * 1000,
        baseline_name="the same check on 100 days of history",
        ratio=timings[5000] / timings[100],
        goal="ratio ≤ 2 (the check does not grow with the history)",
        met=timings[5000] / timings[100] <= 2,
    )


EVALUATED = (1_000, 100_000)
"""An experiment's trades before the timed checks."""
CHECKS = 30
NEW_PER_CHECK = 10


def _experiment_rows(conn: psycopg.Connection[Any], name: str, first: int, count: int) -> None:
    """``count`` trades of experiment ``name``, each with its signal's assignment, written as
    the projector writes them (one transaction), closing a minute apart from ``first``."""
    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    ends = [*range(first, first + count, 24 * 60), first + count - 1]
    months = {(start + timedelta(minutes=n)).date().replace(day=1) for n in ends}
    for month in sorted(months):
        ensure_partition(conn, "trades_v1", month)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY trades_v1 (trade_id, account, instrument, strategy, variant, signal_id,"
            " direction, quantity, entry_time, exit_time, entry_price, exit_price, point_value,"
            " currency, gross_pnl, commission, net_pnl, execution_ids, source, event_id,"
            " causation_ids, kafka_topic, kafka_partition, kafka_offset, ts_ingested)"
            " FROM STDIN"
        ) as copy:
            for n in range(first, first + count):
                at = start + timedelta(minutes=n)
                net = Decimal((n * 7919) % 400 - 195)
                copy.write_row((f"{name}-T{n}", "A", "ES 03-26", "Bench", "v1", f"{name}-S{n}",
                                "long", 1, at - timedelta(minutes=1), at, 100, 101, 50, "USD",
                                net, 0, net, [], "live", f"e{n}", [], "t", 0, n, at))  # fmt: skip
        with cur.copy(
            "COPY assignments_v1 (experiment_id, signal_id, strategy, arm, variant, step,"
            " treatment_percent, bucket, assigned_at, event_id, kafka_topic, kafka_partition,"
            " kafka_offset, ts_ingested) FROM STDIN"
        ) as copy:
            for n in range(first, first + count):
                at = start + timedelta(minutes=n)
                arm = "treatment" if (n * 2654435761) % 100 < 50 else "control"
                copy.write_row((name, f"{name}-S{n}", "Bench", arm, "v", 0, 50, n % 10_000, at,
                                f"a{name}{n}", "a", 0, n, at))  # fmt: skip
    conn.commit()


def evaluation_cost(settings: Settings) -> Result:
    """The guard's check of an experiment, each time 10 more trades have been projected, when
    it has 1,000 trades and when it has 100,000: a check reads and folds only the new ones."""
    migrate(settings)
    timings, catch_up, recompute = {}, {}, 0.0
    with connect(settings) as conn:
        conn.prepare_threshold = None  # planned afresh, as on the connection of a check
        for count in EVALUATED:
            name = f"eval{count}"
            _experiment_rows(conn, name, 0, count)
            conn.execute("ANALYZE trades_v1")
            conn.execute("ANALYZE assignments_v1")
            conn.commit()
            spec = ExperimentSpec(experiment_id=name, strategy="Bench", control_variant="v1",
                                  treatment_variant="v2", ramp=(50, 100))  # fmt: skip
            configured = change_event(name, ExperimentAction.CONFIGURED, actor="bench",
                                      spec=spec, at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
            experiment = fold([configured]).get(name)
            tallies = Tallies()
            started = time.perf_counter()
            tallies.update(conn, experiment)  # the first check after a start reads them all
            catch_up[count] = time.perf_counter() - started
            spent, at = [], count
            for _ in range(CHECKS):
                _experiment_rows(conn, name, at, NEW_PER_CHECK)
                at += NEW_PER_CHECK
                started = time.perf_counter()
                tally = tallies.update(conn, experiment)
                evaluate(conn, experiment, datetime.now(UTC), sequential=tally.state,
                         step_trades=tally.since(experiment.step_started_at))  # fmt: skip
                conn.commit()
                spent.append(time.perf_counter() - started)
            assert len(tally) == count + CHECKS * NEW_PER_CHECK, len(tally)
            timings[count] = statistics.median(spent)
            if count == EVALUATED[-1]:  # what each check cost before: every trade, every time
                started = time.perf_counter()
                rows = conn.execute(
                    "SELECT arm, exit_time, net_pnl, trade_id FROM experiment_trades"
                    " WHERE experiment_id = %s",
                    (name,),
                ).fetchall()
                sequential_test([ArmTrade(arm=ExperimentArm(a), exit_time=t, net_pnl=n,
                                          trade_id=i) for a, t, n, i in rows])  # fmt: skip
                recompute = time.perf_counter() - started
                conn.commit()
    small, large = EVALUATED
    ratio = timings[large] / timings[small]
    return Result(
        name="experiment check: 100,000 trades",
        value=timings[large] * 1000,
        unit="ms",
        baseline=timings[small] * 1000,
        baseline_name="the same check at 1,000 trades",
        ratio=ratio,
        goal=(
            "ratio ≤ 2 (a check folds only the trades new since the last one; "
            f"recomputing all 100,000 took {recompute * 1000:.0f} ms, the first check after a "
            f"start {catch_up[large] * 1000:.0f} ms)"
        ),
        met=ratio <= 2,
    )


def report_cost() -> Result:
    """What ``fillstream experiments show`` computes from an experiment's trades (the report and
    the rollout report, every bootstrap at 2,000 resamples), at 10,000 and at 100,000 trades."""
    configured = change_event("shown", ExperimentAction.CONFIGURED, actor="bench",
                              spec=ExperimentSpec(experiment_id="shown", strategy="Bench",
                                                  control_variant="v1", treatment_variant="v2"),
                              at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    experiment = fold([configured]).get("shown")
    rng = np.random.default_rng(17)
    timings = {}
    for count in (10_000, 100_000):
        arms = rng.random(count) < 0.5
        nets = np.round(rng.normal(2.0, 150.0, count), 2)
        start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
        trades = [ArmTrade(arm=ExperimentArm.TREATMENT if a else ExperimentArm.CONTROL,
                           exit_time=start + timedelta(minutes=i), net_pnl=Decimal(str(n)),
                           regime="normal_vol_ranging" if i % 3 else "high_vol_trending_up",
                           trade_id=f"t{i}")
                  for i, (a, n) in enumerate(zip(arms, nets, strict=True))]  # fmt: skip
        scored = [RolloutTrade(arm=t.arm, exit_time=t.exit_time, net_pnl=t.net_pnl,
                               confidence=float(c))
                  for t, c in zip(trades, rng.random(count), strict=True)]  # fmt: skip
        started = time.perf_counter()
        report(experiment, trades, {})
        rollout(scored)
        timings[count] = time.perf_counter() - started
    ratio = timings[100_000] / timings[10_000]
    return Result(
        name="experiments show: 100,000 trades",
        value=timings[100_000],
        unit="s",
        baseline=timings[10_000],
        baseline_name="the same at 10,000 trades",
        ratio=ratio,
        goal="≤ 30 s, and ratio ≤ 15 (linear in the trades)",
        met=timings[100_000] <= 30 and ratio <= 15,
    )


def run(settings: Settings) -> list[Result]:
    return [
        assignment_latency(settings),
        labelling_rate(),
        guard_cost(settings),
        evaluation_cost(settings),
        report_cost(),
    ]
