"""The worst consumer lag a process reports, as its readiness reads it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from fillstream.lag import worst


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
