"""Derivation (matching, scopes, performance) on one worker against a plain consumer that reads
and decodes the same executions."""

from __future__ import annotations

import dataclasses
import io
import os
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.report import Result
from core.kafka import ensure_topics, producer_config
from core.settings import Settings
from schemas.catalog import record_headers
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, ExecutionId, ExecutionReported, Side, Source
from schemas.registry import default_registry
from tests.fixtures.pipeline import ServiceProcess
from tests.fixtures.services import free_port, wait_for

START = datetime(2026, 9, 21, 13, 30, tzinfo=UTC)
KEYS = [(f"A{a}", instrument) for a in range(8) for instrument in ("ES 12-26", "NQ 12-26")]


def executions(count: int) -> list[ExecutionReported]:
    """Round trips of one contract on 16 positions (8 accounts, 2 instruments), a fill every
    0.7 s of event time (about eight trading days per million), prices wandering over 400 ticks."""
    out = []
    for n in range(count):
        account, instrument = KEYS[n % len(KEYS)]
        ts = START + timedelta(milliseconds=n * 700)
        out.append(
            ExecutionReported(
                envelope=Envelope(
                    event_id=EventId(f"bench-{n}"),
                    ts_event=ts,
                    ts_ingested=ts,
                    source=Source.IMPORT,
                    producer="bench",
                ),
                execution_id=ExecutionId(f"x-{n}"),
                account=account,
                instrument=instrument,
                side=Side.BUY if (n // len(KEYS)) % 2 == 0 else Side.SELL,
                quantity=1,
                price=Decimal("5000.25") + Decimal((n * 7919) % 400) / 4,
                commission=Decimal("1.29"),
                fees=Decimal("0.05"),
            )
        )
    return out


def publish(settings: Settings, events: list[ExecutionReported]) -> None:
    codec = default_codec()
    producer = Producer(producer_config(settings))
    topic = settings.topic("raw.executions")
    for e in events:
        while True:
            try:
                producer.produce(
                    topic,
                    key=f"{e.account}|{e.instrument}".encode(),
                    value=codec.encode(e),
                    headers=list(
                        record_headers("fillstream.ExecutionReported", e.envelope.event_id)
                    ),
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0


def plain_consumer_rate(settings: Settings, count: int, decode: Callable[[bytes], object]) -> float:
    """Baseline: one confluent-kafka consumer reading every execution and decoding it with
    ``decode``."""
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap_servers, "group.id": "bench-plain",
         "enable.auto.commit": False, "fetch.max.bytes": 52428800}
    )  # fmt: skip
    topic = settings.topic("raw.executions")
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
    seen = 0
    started = time.perf_counter()
    while seen < count:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error() is None:
                decode(message.value() or b"")
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return count / elapsed


def fastavro_decoder() -> Callable[[bytes], object]:
    """How a plain consumer decodes: fastavro's reader, with the writer schema named by the
    payload's fingerprint, into dicts."""
    registry = default_registry()

    def decode(payload: bytes) -> object:
        _, schema = registry.writer_for(payload[2:10])
        body = io.BytesIO(payload)
        body.seek(10)
        return fastavro.schemaless_reader(body, schema, None)

    return decode


def counted(port: int) -> float:
    """Scope records the performance stage has scored (or recognised as already scored)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        counts = 'outcome="scored"' in line or 'outcome="duplicate"' in line
        if line.startswith("fillstream_stream_events_total{") and "performance-scopes" in line:
            total += float(line.rsplit(" ", 1)[1]) if counts else 0.0
    return total


def run(base: Settings) -> list[Result]:
    count = int(os.environ.get("FILLSTREAM_BENCH_EXECUTIONS", "1000000"))
    settings = dataclasses.replace(base, namespace="benchderive", worker_port=free_port())
    ensure_topics(settings)
    print(f"derivation: publishing {count:,} executions ...", flush=True)
    publish(settings, executions(count))
    baseline = plain_consumer_rate(settings, count, fastavro_decoder())
    codec_baseline = plain_consumer_rate(settings, count, default_codec().decode)
    expected = count  # count / 2 trades, each in its account's and its instrument's scope
    worker = ServiceProcess(settings, "worker", settings.worker_port)
    started = time.perf_counter()
    worker.start()
    try:
        wait_for(
            lambda: counted(settings.worker_port) >= expected,
            timeout=3600,
            interval=1.0,
            message=f"the worker did not finish:\n{worker.log_tail()}",
        )
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    rate = count / elapsed
    return [
        Result(
            name="derivation executions/s",
            value=rate,
            unit="/s",
            baseline=baseline,
            baseline_name="plain confluent-kafka consumer, fastavro decoding the same executions",
            ratio=rate / baseline,
            goal=">= 25 % of the plain consumer",
            met=rate / baseline >= 0.25,
        ),
        Result(
            name="derivation executions/s, against fillstream's decoder",
            value=rate,
            unit="/s",
            baseline=codec_baseline,
            baseline_name="the same consumer decoding into events with fillstream's codec",
            ratio=rate / codec_baseline,
            goal="report (no goal set)",
            met=True,
        ),
    ]
