"""The pre-trade gate's decision latency: ``POST /v1/decisions`` p99 at 200 requests/s against
the same bridge's ``/healthz`` at the same pace.

A bridge of its own runs every kind of rule and a fixed-fraction sizing over a state followed
from the log: 5,000 closed trades of ten accounts (a third of them today), positions and a
day of bars. Each decision is evaluated against that state and stored in Kafka before it is
answered; the proposals spread over the accounts and strategies. The bridge first answers
``WARM_SECONDS`` of decisions at the same pace, unmeasured: the figure is the steady state of a
bridge that runs all session, not its first seconds after a start (the broker's and the
interpreter's code paths still being compiled and cached).
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client.parser import text_string_to_metric_families

from bench.experiments import p99_ms, paced
from bench.report import Result
from bridge.publisher import kafka_record
from core.kafka import producer_config
from core.settings import Settings
from schemas.codec import default_codec
from schemas.events import (
    BarClosed,
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    Source,
    TradeClosed,
    TradeId,
)
from tests.fixtures.pipeline import ServiceProcess, gate_loaded, with_gate_rules
from tests.fixtures.services import free_ports, wait_for

RATE = 200
SECONDS = 8
WARM_SECONDS = 5
ACCOUNTS = 10
TRADES = 5_000
GOAL_MS = 10.0

RULES = """
[[rule]]
kind = "daily_loss"
limit = 1000000
halt = true

[[rule]]
kind = "trailing_drawdown"
limit = 1000000
from = "account"

[[rule]]
kind = "max_position"
limit = 50

[[rule]]
kind = "max_trades"
limit = 100000

[[rule]]
kind = "loss_cooldown"
limit = 50
minutes = 1

[[rule]]
kind = "session"
hours = ["00:00-23:59"]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[rule]]
kind = "blackout"
file = "news.csv"

[[rule]]
kind = "stale_data"
limit = 86400

[[rule]]
kind = "duplicate_signal"
limit = 0.001

[[rule]]
kind = "min_reward_risk"
limit = 1

[[rule]]
kind = "min_confidence"
limit = 0.1

[[sizing]]
method = "fixed_fraction"
equity = 1000000
risk_fraction = 0.01
max_contracts = 10
"""


def run(settings: Settings, home: Path) -> list[Result]:
    folder = home / "gate"
    folder.mkdir(exist_ok=True)
    (folder / "news.csv").write_text("start,end,label\n2020-01-01T08:30,2020-01-01T08:35,CPI\n")
    (port,) = free_ports(1)
    gated = dataclasses.replace(with_gate_rules(settings, folder, RULES), bridge_port=port)
    _prefill(gated)
    bridge = ServiceProcess(gated, "bridge", port).start()
    try:
        wait_for(lambda: gate_loaded(gated), timeout=120, message="the gate did not read the log")
        paced(gated, "POST", "/v1/decisions", _bodies("warm", RATE * WARM_SECONDS), rate=RATE)
        count = RATE * SECONDS
        before = _parts(gated)
        p99 = p99_ms(paced(gated, "POST", "/v1/decisions", _bodies("d", count), rate=RATE))
        after = _parts(gated)
        baseline = p99_ms(paced(gated, "GET", "/healthz", [b""] * count, rate=RATE))
    finally:
        bridge.stop()
    floor = _kafka_floor(gated, count)
    parts = [
        Result(
            name=f"decision p99 part: {part}",
            value=_p99_of(before.get(part, {}), buckets) * 1000,
            unit="ms",
            baseline=p99,
            baseline_name="the decision p99 of the same run (an upper bound: a bucket's edge)",
            ratio=_p99_of(before.get(part, {}), buckets) * 1000 / p99,
            goal=f"where the time goes ({PARTS[part]})",
            met=True,
        )
        for part, buckets in after.items()
    ]
    return [
        Result(
            name=f"decision p99 @{RATE} req/s",
            value=p99,
            unit="ms",
            baseline=baseline,
            baseline_name=f"GET /healthz of the same bridge at {RATE} req/s",
            ratio=p99 / baseline,
            goal=f"p99 < {GOAL_MS:g} ms (11 rules and sizing; each decision stored in Kafka first)",
            met=p99 < GOAL_MS,
        ),
        *parts,
        Result(
            name=f"decision p99 floor: Kafka ack @{RATE}/s",
            value=floor,
            unit="ms",
            baseline=p99,
            baseline_name="the decision p99 of the same run",
            ratio=floor / p99,
            goal="what storing a decision first costs here: a plain produce to acknowledgement",
            met=True,
        ),
    ]


def _kafka_floor(settings: Settings, count: int) -> float:
    """p99 (ms) of producing a decision-sized record and waiting for Kafka's acknowledgement,
    at RATE a second, with the gate's producer settings, in a process of its own. The wait
    blocks in ``poll`` as the bridge's delivery thread does (polling in a tight loop would take
    the cores from the broker and measure that instead)."""
    topic = settings.topic("bench-gate-floor")
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    producer = Producer({**producer_config(settings), "linger.ms": 0})
    latencies = []
    payload = b"x" * 700
    acked: list[int] = []
    next_at = time.perf_counter()
    for n in range(count):
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing an open-loop load generator, not awaiting a condition
        started = time.perf_counter()
        producer.produce(topic, payload, on_delivery=lambda _e, _m: acked.append(1))
        while len(acked) <= n:
            producer.poll(0.05)
        latencies.append(time.perf_counter() - started)
        next_at += 1 / RATE
    return p99_ms(latencies)


PARTS = {
    "parse": "the request's JSON",
    "wait": "for the state's lock",
    "evaluate": "rules, sizing, calibration, applied, handed to the producer",
    "store": "until Kafka acknowledged the decision",
}


def _parts(settings: Settings) -> dict[str, dict[float, float]]:
    """Per part, the cumulative bucket counts of the bridge's decision-part histogram."""
    with urllib.request.urlopen(f"{settings.bridge_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    parts: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "fillstream_bridge_decision_part_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                edge = float(sample.labels["le"])
                parts.setdefault(sample.labels["part"], {})[edge] = sample.value
    return parts


def _p99_of(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper edge of the bucket holding the 99th percentile of what was counted between
    two scrapes."""
    counts = sorted((edge, after[edge] - before.get(edge, 0.0)) for edge in after)
    total = counts[-1][1]
    for edge, cumulative in counts:
        if total and cumulative >= 0.99 * total:
            return edge
    return float("nan")


def _bodies(prefix: str, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "signal_id": f"{prefix}-{i}",
                "account": f"A{i % ACCOUNTS}",
                "instrument": "NQ 12-26",
                "strategy": f"S{i % 3}",
                "direction": "long" if i % 2 else "short",
                "entry_price": "21000",
                "intended_stop": "20990" if i % 2 else "21010",
                "intended_target": "21030" if i % 2 else "20970",
                "confidence": 0.6,
                "quantity": 2,
            }
        ).encode()  # fmt: skip
        for i in range(count)
    ]


def _prefill(settings: Settings) -> None:
    """Closed trades of ten accounts over a month (a third today) and a day of minute bars."""
    codec = default_codec()
    producer = Producer(producer_config(settings))
    now = datetime.now(UTC)
    for n in range(TRADES):
        exit_time = now - timedelta(minutes=5 + n * (43_200 // TRADES)) if n % 3 else now - \
            timedelta(minutes=1 + n % 600)  # fmt: skip
        net = Decimal((n * 37) % 900 - 430)
        trade = TradeClosed(
            envelope=_envelope(f"bt-{n}", exit_time), trade_id=TradeId(f"bt-{n}"),
            account=f"A{n % ACCOUNTS}", instrument="NQ 12-26", strategy=f"S{n % 3}",
            direction=Direction.LONG, quantity=1, entry_time=exit_time - timedelta(minutes=3),
            exit_time=exit_time, entry_price=Decimal(21000), exit_price=Decimal(21000) + net / 20,
            point_value=Decimal(20), currency="USD", gross_pnl=net, commission=Decimal(0),
            net_pnl=net, execution_ids=(ExecutionId(f"bx-{n}"),),
        )  # fmt: skip
        record = kafka_record(settings, codec, trade)
        producer.produce(record.topic, key=record.key, value=record.value)
        producer.poll(0)
    for minute in range(1440):
        at = now - timedelta(minutes=1440 - minute)
        bar = BarClosed(
            envelope=_envelope(f"bb-{minute}", at), instrument="NQ 12-26", period="1 Minute",
            open=Decimal(21000), high=Decimal(21004), low=Decimal(20996), close=Decimal(21001),
            volume=100,
        )  # fmt: skip
        record = kafka_record(settings, codec, bar)
        producer.produce(record.topic, key=record.key, value=record.value)
        producer.poll(0)
    assert producer.flush(60) == 0, "the gate's state was not all produced"


def _envelope(event_id: str, at: datetime) -> Envelope:
    return Envelope(event_id=EventId(event_id), ts_event=at, ts_ingested=at, source=Source.LIVE,
                    producer="bench")  # fmt: skip
