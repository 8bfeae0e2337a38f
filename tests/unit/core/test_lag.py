"""The worst consumer lag a process reports, as its readiness reads it."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.lag import LAG, LagGauge, worst


def test_the_worst_lag_is_the_largest_sample_of_the_lag_family_only() -> None:
    registry = CollectorRegistry()
    assert worst(registry.collect()) == 0  # nothing consumed yet: not behind
    lag = Gauge("fillstream_consumer_lag_records", "lag", ["group", "topic", "partition"],
                registry=registry)  # fmt: skip
    other = Counter("fillstream_other_records", "not lag", registry=registry)
    other.inc(5000)
    lag.labels("g1", "t", "0").set(3)
    lag.labels("g1", "t", "1").set(1200)
    lag.labels("g2", "u", "0").set(7)
    assert worst(registry.collect()) == 1200
    lag.labels("g1", "t", "1").set(0)
    assert worst(registry.collect()) == 7


class FakeConsumer:
    """What ``LagGauge.observe`` asks of a consumer: positions and cached watermarks."""

    def __init__(self, positions: dict[tuple[str, int], int], high: int) -> None:
        self.positions, self.high = positions, high

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.positions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.positions[(tp.topic, tp.partition)])
                for tp in partitions]  # fmt: skip

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        assert cached  # no request to the broker
        return 0, self.high


def test_a_group_let_go_of_leaves_no_lag_behind() -> None:
    gauge = LagGauge("g-forgotten")
    gauge.observe(FakeConsumer({("t", 0): 10, ("t", 1): -1001}, high=5010))  # type: ignore[arg-type]
    assert [s.value for s in samples("g-forgotten")] == [5000]  # unconsumed partition: none
    gauge.forget()
    assert samples("g-forgotten") == []


def samples(group: str) -> list[Any]:
    return [s for family in LAG.collect() for s in family.samples if s.labels["group"] == group]
