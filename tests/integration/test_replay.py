"""Replaying the raw log derives exactly what the live run derived: the same trades and position
changes of every key, byte for byte and in the same order, though executions arrived out of
order and market context arrived around them (some of it only after the trade it falls in was
closed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from core.kafka import ensure_topics
from core.settings import Settings
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import free_port, wait_for
from tests.integration.test_walking_skeleton import Pipeline, bar, running, trade_count

pytestmark = pytest.mark.integration

RAW = ("raw.executions", "raw.market", "raw.signals")
DERIVED = ("derived.trades", "derived.positions")


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def records(settings: Settings, topic: str) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """Every committed record of a catalog topic: partition → (key, value), in order."""
    name = settings.topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "tests-replay",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
    consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
    found: dict[int, list[tuple[bytes | None, bytes]]] = {p: [] for p in partitions}
    ended: set[int] = set()
    try:
        while len(ended) < len(partitions):
            message = consumer.poll(10)
            assert message is not None, f"{name}: no end of partition within 10 s"
            partition = message.partition()
            assert partition is not None
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                ended.add(partition)
            else:
                found[partition].append((message.key(), message.value() or b""))
    finally:
        consumer.close()
    return found


def copy(source: Settings, target: Settings, topic: str) -> None:
    """The topic's records into the same partitions of ``target``'s namespace, in order."""
    producer = Producer({"bootstrap.servers": target.bootstrap_servers, "acks": "all"})
    for partition, rows in records(source, topic).items():
        for key, value in rows:
            producer.produce(target.topic(topic), key=key, value=value, partition=partition)
    assert producer.flush(30) == 0


def test_a_replay_of_the_raw_log_derives_identical_events(
    settings: Settings, pipeline: Pipeline, tmp_path: Any
) -> None:
    signal = {
        "type": "signal", "ts_event": "2026-09-22T14:00:00Z", "source": "live",
        "producer": "tests", "signal_id": "r-sig", "account": "A1", "instrument": "NQ 12-26",
        "strategy": "S", "direction": "long", "intended_stop": "20990",
    }  # fmt: skip
    first = [
        signal,
        # an exit posted before its entry: the grace window puts them in event-time order
        execution("r-2", "sell", "21004", account="A2", ts="2026-09-22T14:00:09Z"),
        execution("r-1", "buy", "21000", account="A2", ts="2026-09-22T14:00:08Z"),
        execution(
            "r-3", "buy", "21000", account="A1", ts="2026-09-22T14:00:10Z", signal_id="r-sig"
        ),
        bar("2026-09-22T14:01:00Z", "21012", "20996", "21010"),
    ]
    assert post(settings, first)[0] == 202
    assert (
        post(
            settings, [execution("r-4", "sell", "21008", account="A1", ts="2026-09-22T14:01:30Z")]
        )[0]
        == 202
    )
    wait_for(lambda: trade_count(settings) == 2, timeout=60, message="no trades projected")
    # a bar closing during A1's trade, recorded after its exit: neither run may count it
    assert post(settings, [bar("2026-09-22T14:01:20Z", "21100", "20900", "21000")])[0] == 202
    # a reversal and more, on both accounts
    later = [
        execution("r-5", "sell", "21010", account="A2", ts="2026-09-22T14:02:00Z", quantity=2),
        bar("2026-09-22T14:02:00Z", "21015", "21001", "21003"),
        execution("r-6", "buy", "21002", account="A2", ts="2026-09-22T14:02:40Z", quantity=3),
        execution("r-7", "sell", "21007", account="A2", ts="2026-09-22T14:03:10Z", quantity=1),
    ]
    assert post(settings, later)[0] == 202
    wait_for(lambda: trade_count(settings) == 4, timeout=60, message="later trades not projected")
    a1 = query(settings, "SELECT mae, mfe, r_multiple FROM trades WHERE account = 'A1'")
    assert a1 and a1[0][0] is not None and a1[0][2] is not None  # context was used

    replay = dataclasses.replace(
        settings, namespace=settings.namespace + "r", worker_port=free_port(), home=tmp_path
    )
    ensure_topics(replay)
    for topic in RAW:
        copy(settings, replay, topic)
    live = {topic: _count(settings, topic) for topic in DERIVED}
    assert live == {"derived.trades": 4, "derived.positions": 7}
    worker = ServiceProcess(replay, "worker", replay.worker_port).start()
    try:
        wait_for(
            lambda: {topic: _count(replay, topic) for topic in DERIVED} == live,
            timeout=90,
            interval=1.0,
            message=f"the replay did not derive what the live run did:\n{worker.log_tail()}",
        )
    finally:
        worker.stop()
    for topic in DERIVED:  # per key: keys read from different partitions interleave freely
        assert by_key(replay, topic) == by_key(settings, topic), topic


def by_key(settings: Settings, topic: str) -> dict[bytes | None, list[bytes]]:
    """A topic's values per key, in order."""
    found: dict[bytes | None, list[bytes]] = {}
    for rows in records(settings, topic).values():
        for key, value in rows:
            found.setdefault(key, []).append(value)
    return found


def _count(settings: Settings, topic: str) -> int:
    return sum(len(rows) for rows in records(settings, topic).values())
