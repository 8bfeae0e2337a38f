"""Kafka away: the bridge spools to disk, keeps order per key, and loses and doubles nothing.

These tests run their own broker (the session's must stay up for the others) so they can stop it.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
import urllib.error
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from core.kafka import ensure_topics, watermarks
from core.settings import Settings
from deploy.kafka import LocalKafka
from projections.migrate import migrate
from schemas.codec import default_codec
from schemas.events import ExecutionReported
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import Endpoints, free_ports, local_kafka, temporary_home, wait_for

pytestmark = pytest.mark.integration

ACCOUNTS = ("S1", "S2", "S3", "S4")


class Stack:
    def __init__(self, kafka: LocalKafka, settings: Settings) -> None:
        self.kafka = kafka
        self.settings = settings
        self.bridge = ServiceProcess(settings, "bridge", settings.bridge_port)
        self.worker = ServiceProcess(settings, "worker", settings.worker_port)
        self.projector = ServiceProcess(settings, "project", settings.projector_port)


@pytest.fixture
def stack(services: Endpoints) -> Iterator[Stack]:
    with temporary_home() as home, local_kafka(home) as kafka:
        bridge_port, worker_port, projector_port = free_ports(3)
        settings = Settings.from_env(
            {
                "FILLSTREAM_NAMESPACE": "s" + secrets.token_hex(5),
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                "DATABASE_URL": services.dsn,
                "FILLSTREAM_TOKEN": secrets.token_urlsafe(24),
                "FILLSTREAM_HOME": str(home / "fillstream"),
                "FILLSTREAM_BRIDGE_PORT": str(bridge_port),
                "FILLSTREAM_WORKER_PORT": str(worker_port),
                "FILLSTREAM_PROJECTOR_PORT": str(projector_port),
                "FILLSTREAM_BRIDGE_ACK_TIMEOUT": "2",
            }
        )
        settings.home.mkdir()
        ensure_topics(settings)
        migrate(settings)
        stack = Stack(kafka, settings)
        stack.bridge.start()
        try:
            yield stack
        finally:
            for service in (stack.bridge, stack.worker, stack.projector):
                service.stop()
                print(f"----- {service.name} log -----\n{service.log_tail(40)}")


def round_trips(prefix: str, count: int) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        account = ACCOUNTS[n % len(ACCOUNTS)]
        ts = f"2026-09-22T15:{n // 60 % 60:02d}:{n % 60:02d}"
        for leg, side, price, at in (
            ("in", "buy", "100.00", "Z"),
            ("out", "sell", "100.25", ".5Z"),
        ):
            events.append(
                execution(f"{prefix}-{n}-{leg}", side, price, ts=ts + at, account=account,
                          instrument="ES 12-26", commission="1.00")
            )  # fmt: skip
    return events


def post_until_stored(settings: Settings, batch: list[dict[str, Any]], deadline: float) -> str:
    """POST like the NinjaTrader add-on: retry on connection errors until the bridge answers."""
    while True:
        try:
            status, body = post(settings, batch)
            assert status == 202, body
            return str(body["stored"])
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def logged_executions(settings: Settings) -> list[ExecutionReported]:
    """Every record of raw.executions, partition by partition, each in log order."""
    name = settings.topic("raw.executions")
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "t-read",
            "enable.auto.commit": False,
        }
    )
    try:
        out: list[ExecutionReported] = []
        for p in consumer.list_topics(name, timeout=10).topics[name].partitions:
            # asked again while a restarted broker elects the partition's leader
            high = watermarks(consumer, TopicPartition(name, p))[1]
            if high == 0:
                continue
            consumer.assign([TopicPartition(name, p, 0)])
            while True:
                message = consumer.poll(5)
                assert message is not None, f"partition {p} stopped short of offset {high}"
                event = default_codec().decode(message.value() or b"")
                assert isinstance(event, ExecutionReported)
                out.append(event)
                if (message.offset() or 0) + 1 >= high:
                    break
        return out
    finally:
        consumer.close()


def assert_once_and_in_order(settings: Settings, sent: list[dict[str, Any]], *, slack: int) -> None:
    logged = logged_executions(settings)
    ids = [e.execution_id for e in logged]
    assert set(ids) == {e["execution_id"] for e in sent}, "an acknowledged execution is missing"
    assert len(ids) <= len(sent) + slack
    by_key: dict[str, list[str]] = defaultdict(list)
    for e in logged:
        if e.execution_id not in by_key[e.account]:
            by_key[e.account].append(e.execution_id)
    for account in ACCOUNTS:
        expected = [e["execution_id"] for e in sent if e["account"] == account]
        assert by_key[account] == expected, f"order of {account} changed"


def start_downstream_and_count_trades(stack: Stack, trades: int) -> None:
    stack.worker.start()
    stack.projector.start()

    def count() -> int:
        return int(query(stack.settings, "SELECT count(*) FROM trades")[0][0])

    wait_for(
        lambda: count() >= trades, timeout=120, interval=0.5, message="trades did not all arrive"
    )
    assert query(stack.settings, "SELECT count(*), count(DISTINCT trade_id) FROM trades")[0] == (
        trades,
        trades,
    )


def test_executions_sent_while_kafka_is_down_arrive_once_and_in_order(stack: Stack) -> None:
    stack.kafka.stop()
    events = round_trips("down", 500)
    stored = [post_until_stored(stack.settings, events[i : i + 50], time.monotonic() + 30)
              for i in range(0, len(events), 50)]  # fmt: skip
    assert set(stored) == {"spool"}

    stack.kafka.start()
    drained = lambda: len(logged_executions(stack.settings)) >= len(events)  # noqa: E731
    wait_for(drained, timeout=60, interval=0.5, message="the spool did not drain")
    assert_once_and_in_order(stack.settings, events, slack=0)
    start_downstream_and_count_trades(stack, 500)
    assert post(stack.settings, round_trips("after", 1))[1]["stored"] == "kafka"


def test_killing_the_bridge_while_it_spools_loses_and_doubles_nothing(stack: Stack) -> None:
    stack.kafka.stop()
    events = round_trips("kill", 500)
    accepted: list[int] = []

    def feed() -> None:
        for i in range(0, len(events), 20):
            post_until_stored(stack.settings, events[i : i + 20], time.monotonic() + 60)
            accepted.append(i)

    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_for(lambda: len(accepted) >= 15, timeout=60, message="the bridge did not spool")
    stack.bridge.kill()
    stack.bridge.start()
    feeder.join(timeout=120)
    assert len(accepted) == len(events) // 20

    stack.kafka.start()

    def distinct() -> int:
        return len({e.execution_id for e in logged_executions(stack.settings)})

    wait_for(
        lambda: distinct() >= len(events), timeout=60, interval=0.5, message="spool not drained"
    )
    assert_once_and_in_order(stack.settings, events, slack=20)  # at most the batch cut short
    start_downstream_and_count_trades(stack, 500)
