"""Live ingest through the bridge (batched HTTP) against a plain confluent-kafka producer."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bench.report import Result
from bridge.parsing import parse_events
from bridge.publisher import to_records
from core.kafka import producer_config
from core.settings import Settings
from schemas.codec import default_codec

START = datetime(2026, 9, 22, 13, 30, tzinfo=UTC)


def executions(count: int, prefix: str) -> list[dict[str, Any]]:
    """Fills as a busy day has them: a fill every 0.7 s or so, prices wandering over 400 ticks,
    eight accounts on two instruments, one to three contracts."""
    events = []
    for n in range(count):
        ts = (START + timedelta(milliseconds=n * 700 + n % 7)).isoformat().replace("+00:00", "Z")
        side = "buy" if n % 2 == 0 else "sell"
        ticks = (n * 7919) % 400
        events.append({
            "type": "execution", "ts_event": ts, "execution_id": f"{prefix}-{n}",
            "account": f"A{n % 8}", "instrument": ("ES 12-26", "NQ 12-26")[n % 2], "side": side,
            "quantity": 1 + n % 3, "price": str(Decimal("5000.25") + Decimal(ticks) / 4),
            "commission": "1.29", "fees": "0.05",
        })  # fmt: skip
    return events


def raw_producer_rate(settings: Settings, events: Sequence[dict[str, Any]]) -> float:
    """Baseline: the same encoded records through one idempotent acks=all producer."""
    parsed = parse_events(list(events), ts_ingested=START, producer="bench")
    records = to_records(settings, default_codec(), parsed)
    producer = Producer(producer_config(settings))
    failures: list[object] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    started = time.perf_counter()
    for r in records:
        while True:
            try:
                producer.produce(r.topic, key=r.key, value=r.value, headers=list(r.headers),
                                 on_delivery=delivered)  # fmt: skip
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    assert not failures, failures[:3]
    return len(records) / elapsed


class _Client:
    def __init__(self, settings: Settings) -> None:
        self.connection = http.client.HTTPConnection(
            settings.bridge_host, settings.bridge_port, timeout=30
        )
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {settings.token}",
        }

    def post(self, body: bytes) -> float:
        started = time.perf_counter()
        self.connection.request("POST", "/v1/events", body=body, headers=self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        assert response.status == 202, payload
        return time.perf_counter() - started


def bridge_rate(
    settings: Settings, events: Sequence[dict[str, Any]], batch: int, clients: int
) -> float:
    """Events/s through POST /v1/events, ``clients`` keep-alive connections sending batches."""
    bodies = [
        json.dumps(list(events[i : i + batch])).encode() for i in range(0, len(events), batch)
    ]
    shares = [bodies[i::clients] for i in range(clients)]

    def run(share: list[bytes]) -> None:
        client = _Client(settings)
        for body in share:
            client.post(body)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(events) / (time.perf_counter() - started)


def bridge_latency_p99(
    settings: Settings, events: Sequence[dict[str, Any]], rate: float, batch: int
) -> float:
    """p99 acknowledgement latency (ms) of an open-loop sender at ``rate`` events/s."""
    client = _Client(settings)
    for i in range(0, min(len(events), 50 * batch), batch):  # warm-up, not measured
        client.post(
            json.dumps(
                [dict(e, execution_id="warm-" + e["execution_id"]) for e in events[i : i + batch]]
            ).encode()
        )
    interval = batch / rate
    latencies = []
    next_at = time.perf_counter()
    for i in range(0, len(events), batch):
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing an open-loop load generator, not waiting for a condition
        latencies.append(client.post(json.dumps(list(events[i : i + batch])).encode()))
        next_at += interval
    return statistics.quantiles(latencies, n=100)[98] * 1000


def raw_latency_p99(
    settings: Settings, events: Sequence[dict[str, Any]], rate: float, batch: int
) -> float:
    """Baseline: p99 (ms) of producing the same batches and awaiting their acks, same rate."""
    parsed = parse_events(list(events), ts_ingested=START, producer="bench")
    records = to_records(settings, default_codec(), parsed)
    producer = Producer(producer_config(settings))
    for r in records[: 50 * batch]:  # warm-up, not measured
        producer.produce(r.topic, key=r.key, value=r.value)
    producer.flush(30)
    interval = batch / rate
    latencies = []
    next_at = time.perf_counter()
    for i in range(0, len(records), batch):
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        started = time.perf_counter()
        for r in records[i : i + batch]:
            producer.produce(r.topic, key=r.key, value=r.value, headers=list(r.headers))
        producer.flush(30)
        latencies.append(time.perf_counter() - started)
        next_at += interval
    return statistics.quantiles(latencies, n=100)[98] * 1000


def run(settings: Settings) -> list[Result]:
    # latency first, at steady state; the throughput burst afterwards would disturb it
    p99 = bridge_latency_p99(settings, executions(10_000, "lat"), rate=1000, batch=10)
    raw_p99 = raw_latency_p99(settings, executions(10_000, "rawlat"), rate=1000, batch=10)
    baseline = raw_producer_rate(settings, executions(20_000, "raw"))
    value = bridge_rate(settings, executions(20_000, "tput"), batch=500, clients=2)
    return [
        Result(
            name="ingest p99 ack latency @1000 ev/s",
            value=p99,
            unit="ms",
            baseline=raw_p99,
            baseline_name="plain producer: produce + flush of the same 10-event batches",
            ratio=p99 / raw_p99,
            goal="p99 < 50 ms",
            met=p99 < 50,
        ),
        Result(
            name="live ingest (HTTP batches of 500)",
            value=value,
            unit="events/s",
            baseline=baseline,
            baseline_name="plain confluent-kafka producer, same encoded payloads",
            ratio=value / baseline,
            goal="report (no goal set)",
            met=True,
        ),
    ]
