"""``fillstream offsets show`` against a real broker: committed offsets, end offsets, lag and
live members, per group."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from control.errors import OffsetsError
from control.offsets import group_positions, parse_duration, parse_moment
from core.settings import Settings
from fillstream.commands.offsets import main
from tests.fixtures.services import wait_for

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


def produce_at(settings: Settings, topic: str, moments: list[int]) -> None:
    """One record per timestamp (epoch milliseconds) on partitions 0 and 1 alike."""
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for partition in (0, 1):
        for millis in moments:
            producer.produce(topic, value=b"x", partition=partition, timestamp=millis)
    assert producer.flush(30) == 0


def committed(settings: Settings, group: str) -> list[tuple[int, int | None]]:
    (position,) = group_positions(settings, group)
    return [(p.partition, p.committed) for p in position.partitions]


def test_rewind_plans_first_and_commits_only_when_told_and_the_group_is_stopped(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    topic = settings.topic("raw.orders")
    base = 1_790_000_000_000  # 2026-09-21T...Z, one record a minute
    produce_at(settings, topic, [base + n * 60_000 for n in range(10)])
    done = consumer(settings, "rewound")
    done.commit(
        offsets=[TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 10)], asynchronous=False
    )
    done.close()

    moment = datetime.fromtimestamp((base + 6 * 60_000) / 1000, UTC).isoformat()
    assert main(["rewind", "rewound", "--to-datetime", moment]) == 0
    plan = capsys.readouterr().out
    assert [line.split() for line in plan.splitlines()[2:4]] == [
        [topic, "0", "10", "6"], [topic, "1", "10", "6"],
    ]  # fmt: skip
    assert "not applied: add --execute" in plan
    assert committed(settings, "rewound") == [(0, 10), (1, 10)]  # a plan changes nothing

    assert main(["rewind", "rewound", "--to-datetime", moment, "--execute"]) == 0
    assert "applied" in capsys.readouterr().out
    assert committed(settings, "rewound") == [(0, 6), (1, 6)]

    assert main(["rewind", "rewound", "--shift-by", "-100", "--execute"]) == 0
    assert committed(settings, "rewound") == [(0, 0), (1, 0)]  # never before the first offset
    assert main(["rewind", "rewound", "--to-offset", "3", "--execute"]) == 0
    assert committed(settings, "rewound") == [(0, 3), (1, 3)]
    assert main(["rewind", "rewound", "--to-latest", "--execute"]) == 0
    assert committed(settings, "rewound") == [(0, 10), (1, 10)]
    assert main(["rewind", "rewound", "--by-duration", "P36500D", "--execute"]) == 0
    assert committed(settings, "rewound") == [(0, 0), (1, 0)]  # a century back: the start

    member = consumer(settings, "rewound")
    member.subscribe([topic])
    try:
        wait_for(
            lambda: (
                bool(member.poll(0.2) or member.assignment())
                and bool(group_positions(settings, "rewound")[0].members)
            ),
            timeout=60,
            message="the live member never showed",
        )
        with pytest.raises(OffsetsError, match="live member.*stop them first"):
            main(["rewind", "rewound", "--to-earliest", "--execute"])
    finally:
        member.close()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800), ("PT1H30M", 5400), ("P1DT2S", 86402)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "5y", "P", "PT", "1h30"])
def test_a_bad_duration_is_named(text: str) -> None:
    with pytest.raises(OffsetsError, match="is not a duration"):
        parse_duration(text)


def test_a_time_needs_its_zone() -> None:
    with pytest.raises(OffsetsError, match="no time zone"):
        parse_moment("2026-09-22T14:00:00")
    assert parse_moment("2026-09-22T14:00:00Z").utcoffset() is not None
