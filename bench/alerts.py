"""Alert delivery: from the triggering event entering Kafka to its delivery on each channel.

A worker (its alert stages) and a notifier run against the bench's broker and database, with a
rules file whose ``consumer_lag`` rule alternately raises and resolves as health checks report a
lag above and below its limit. One check every ``PACE`` seconds, ``CHECKS`` in all; each raises
or resolves one alert. A check's start is the moment Kafka acknowledged it (the producer's
delivery report). Each channel's receiver is real and on loopback: an HTTP server for the
webhook and the SMS provider, an SMTP server (aiosmtpd) for e-mail, and a subscriber of the
notifier's server-sent-events feed. Each channel delivers in order, so its n-th delivery is the
n-th check's. The goal: under 5 s at the 99th percentile on a local stack.

The baseline is one plain Kafka hop at the same pace: a producer and a consumer, from the
acknowledgement to the consumer receiving the record.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.report import Result
from core.kafka import producer_config
from core.settings import Settings
from projections.migrate import migrate
from schemas.catalog import record_headers
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, ServiceChecked, schema_name
from tests.fixtures.pipeline import ServiceProcess
from tests.fixtures.services import free_ports, wait_for

CHECKS = 60
PACE = 0.5
GOAL_MS = 5000.0
_TOKEN_VARIABLE = "FILLSTREAM_BENCH_SMS_TOKEN"

RULES = """
[delivery]
repeat_interval = "0"

[[rules]]
name = "bench-lag"
type = "consumer_lag"
severity = "critical"
records = 100

[channels.webhook]
type = "webhook"
url = "http://127.0.0.1:{http}/hook"

[channels.sms]
type = "sms"
url = "http://127.0.0.1:{http}/sms"
token_env = "{token_variable}"
recipients = ["+15555550100"]

[channels.email]
type = "email"
host = "127.0.0.1"
port = {smtp}
security = "none"
sender = "fillstream@example.com"
recipients = ["ops@example.com"]

[channels.feed]
type = "feed"
"""


class Arrivals:
    """When each channel's deliveries arrived, in order."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {"webhook": [], "sms": [], "email": [], "feed": []}
        self._lock = threading.Lock()

    def arrived(self, channel: str) -> None:
        with self._lock:
            self.times[channel].append(time.time())

    def count(self, channel: str) -> int:
        with self._lock:
            return len(self.times[channel])


def run(settings: Settings) -> list[Result]:
    arrivals = Arrivals()
    http_port, smtp_port, worker_port, notify_port = free_ports(4)
    os.environ[_TOKEN_VARIABLE] = "bench-sms-token-0123456789"
    path = settings.home / "bench-alerts.toml"
    path.write_text(RULES.format(http=http_port, smtp=smtp_port, token_variable=_TOKEN_VARIABLE))
    settings = replace(settings, alert_rules=path, worker_port=worker_port, notify_port=notify_port)
    migrate(settings)
    with receivers(arrivals, http_port, smtp_port):
        worker = ServiceProcess(settings, "worker", worker_port).start()
        notify = ServiceProcess(settings, "notify", notify_port).start()
        try:
            threading.Thread(target=_subscribe, args=(settings, arrivals), daemon=True).start()
            wait_for(lambda: _ready(worker_port) and _ready(notify_port), timeout=60,
                     message="the worker or the notifier never became ready")  # fmt: skip
            acknowledged = _checks(settings)
            for channel in arrivals.times:

                def delivered(channel: str = channel) -> bool:
                    return arrivals.count(channel) >= CHECKS

                wait_for(
                    delivered,
                    timeout=120,
                    message=f"{channel}: {arrivals.count(channel)} of {CHECKS} delivered",
                )
        finally:
            notify.stop()
            worker.stop()
    baseline = _plain_hop(settings)
    results = []
    for channel, times in arrivals.times.items():
        latencies = [(t - a) * 1000 for t, a in zip(times, acknowledged, strict=False)]
        p99 = _percentile(latencies, 0.99)
        results.append(
            Result(
                name=f"alerts: {channel} p99 delivery",
                value=p99,
                unit="ms",
                baseline=baseline,
                baseline_name="plain Kafka hop p99 at the same pace",
                ratio=p99 / baseline,
                goal=f"p99 < {GOAL_MS:g} ms (local stack)",
                met=p99 < GOAL_MS,
            )
        )
        results.append(
            Result(
                name=f"alerts: {channel} median delivery",
                value=statistics.median(latencies),
                unit="ms",
                baseline=baseline,
                baseline_name="plain Kafka hop p99 at the same pace",
                ratio=statistics.median(latencies) / baseline,
                goal="report (no goal set)",
                met=True,
            )
        )
    return results


def _checks(settings: Settings) -> list[float]:
    """Publish the checks, one every ``PACE`` seconds; when Kafka acknowledged each."""
    codec = default_codec()
    producer = Producer(producer_config(settings))
    acknowledged: list[float] = []
    start = datetime.now(UTC)
    for n in range(CHECKS):
        at = start + timedelta(seconds=n)
        event = ServiceChecked(
            envelope=Envelope(
                event_id=EventId(f"bench|{n}"), ts_event=at, ts_ingested=datetime.now(UTC),
                producer="bench",
            ),
            service="worker", instance="bench:1", healthy=True,
            figures={"lag_records": 500.0 if n % 2 == 0 else 0.0},
            started_at=start,
        )  # fmt: skip
        producer.produce(
            settings.topic("health"),
            key=b"worker|bench:1",
            value=codec.encode(event),
            headers=list(record_headers(schema_name(event), event.envelope.event_id)),
            on_delivery=lambda error, _message: acknowledged.append(time.time()),
        )
        producer.flush(10)
        time.sleep(PACE)
    return acknowledged


def _plain_hop(settings: Settings) -> float:
    """p99 milliseconds from a record's acknowledgement to a consumer receiving it."""
    topic = settings.topic("bench-alerts-hop")
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("bench-alerts-hop"),
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    acknowledged: dict[int, float] = {}

    def acknowledge(n: int, _error: KafkaError | None, _message: Message) -> None:
        acknowledged[n] = time.time()

    def produce() -> None:
        producer = Producer(producer_config(settings))
        for n in range(CHECKS):
            producer.produce(
                topic,
                value=str(n).encode(),
                on_delivery=functools.partial(acknowledge, n),
            )
            producer.flush(10)
            time.sleep(PACE)

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    received: dict[int, float] = {}
    deadline = time.monotonic() + CHECKS * PACE + 30
    while len(received) < CHECKS and time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            received[int(message.value() or b"0")] = time.time()
    writer.join(timeout=30)
    consumer.close()
    latencies = [(received[n] - acknowledged[n]) * 1000 for n in acknowledged if n in received]
    return max(_percentile(latencies, 0.99), 0.001)


@contextmanager
def receivers(arrivals: Arrivals, http_port: int, smtp_port: int) -> Iterator[None]:
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrivals.arrived("sms" if self.path == "/sms" else "webhook")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Mail:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            arrivals.arrived("email")
            return "250 OK"

    http = ThreadingHTTPServer(("127.0.0.1", http_port), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    smtp = Controller(Mail(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield
    finally:
        smtp.stop()
        http.shutdown()
        http.server_close()


def _subscribe(settings: Settings, arrivals: Arrivals) -> None:
    """Follow the live feed; every alert event is a delivery."""
    url = f"http://127.0.0.1:{settings.notify_port}/alerts/feed?token={settings.token}"
    with urllib.request.urlopen(url, timeout=300) as stream:
        for line in stream:
            if line.startswith(b"data:"):
                json.loads(line[5:])
                arrivals.arrived("feed")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0
