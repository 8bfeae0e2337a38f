"""``fillstream offsets show`` against a real broker: committed offsets, end offsets, lag and
live members, per group."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from deploy.cmd_offsets import main
from deploy.offsets import OffsetsError, group_positions
from fillstream.settings import Settings
from tests.harness import wait_for

pytestmark = pytest.mark.integration


def produce(settings: Settings, topic: str, counts: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for partition, count in counts.items():
        for n in range(count):
            producer.produce(topic, value=f"{partition}-{n}".encode(), partition=partition)
    assert producer.flush(30) == 0


def consumer(settings: Settings, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group(group),
            "enable.auto.commit": False,
            "client.id": "offsets-test",
        }
    )


def test_show_prints_committed_end_and_lag_per_partition_and_the_live_members(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():  # what the command reads its settings from
        monkeypatch.setenv(name, value)
    topic = settings.topic("raw.orders")
    produce(settings, topic, {0: 5, 1: 3})
    committing = consumer(settings, "offsets-test")
    committing.commit(
        offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 3)], asynchronous=False
    )
    committing.close()

    assert main(["show", "offsets-test"]) == 0
    printed = capsys.readouterr().out
    header, columns, *rows = printed.splitlines()
    assert header.startswith(f"{settings.group('offsets-test')}  state empty  lag 3  members 0")
    assert columns.split() == ["topic", "partition", "committed", "end", "lag"]
    assert [r.split() for r in rows] == [[topic, "0", "2", "5", "3"], [topic, "1", "3", "3", "0"]]

    member = consumer(settings, "offsets-test")
    member.subscribe([topic])
    try:
        wait_for(
            lambda: (
                bool(member.poll(0.2) or member.assignment())
                and group_positions(settings, "offsets-test")[0].members
                == ("offsets-test@127.0.0.1",)
            ),
            timeout=60,
            message="the live member never showed",
        )
        assert main(["show", settings.group("offsets-test"), "--json"]) == 0  # full id works too
        (shown,) = json.loads(capsys.readouterr().out)
        assert shown["state"] == "stable" and shown["members"] == ["offsets-test@127.0.0.1"]
        assert [(p["partition"], p["committed"], p["lag"]) for p in shown["partitions"]] == [
            (0, 2, 3),
            (1, 3, 0),
        ]
    finally:
        member.close()


def test_an_unknown_group_is_named_with_the_namespaces_groups(settings: Settings) -> None:
    committing = consumer(settings, "known-group")
    committing.commit(
        offsets=[TopicPartition(settings.topic("raw.orders"), 0, 0)], asynchronous=False
    )
    committing.close()
    with pytest.raises(OffsetsError, match=r"no consumer group .*nope.*known-group"):
        group_positions(settings, "nope")
