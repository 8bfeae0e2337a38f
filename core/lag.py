"""Consumer lag as a Prometheus gauge, per consumer group and partition, from what a consumer
already knows: its position, and the high watermark its last fetch of the partition returned
(no request to the broker)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer
from prometheus_client import Gauge
from prometheus_client.metrics_core import Metric

LAG = Gauge(
    "fillstream_consumer_lag_records",
    "Records of a partition beyond a consumer group's position: the high watermark of its last "
    "fetch less its position (transaction markers count too: an upper bound).",
    ["group", "topic", "partition"],
    multiprocess_mode="livemostrecent",
)

EVERY_SECONDS = 1.0
"""How often a consumer's lag is looked at, at most."""


class LagGauge:
    """Sets ``LAG`` for the partitions assigned to a consumer of ``group``."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._at = 0.0
        self._labels: set[tuple[str, str, str]] = set()

    def observe(self, consumer: Consumer) -> None:
        now = time.monotonic()
        if now - self._at < EVERY_SECONDS:
            return
        self._at = now
        for tp in consumer.position(consumer.assignment()):
            if tp.offset < 0:  # nothing consumed yet
                continue
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            if high < 0:
                continue
            labels = (self.group, tp.topic, str(tp.partition))
            LAG.labels(*labels).set(max(0, high - tp.offset))
            self._labels.add(labels)

    def forget(self) -> None:
        """Remove the series this consumer set: its group reads no more (a projection version
        let go of), so neither its lag nor readiness should still count it."""
        for labels in self._labels:
            LAG.remove(*labels)
        self._labels.clear()


def worst(families: Iterable[Metric]) -> float:
    """The largest lag among the ``fillstream_consumer_lag_records`` samples of ``families``
    (0 without any)."""
    return max(
        (
            sample.value
            for family in families
            if family.name == "fillstream_consumer_lag_records"
            for sample in family.samples
        ),
        default=0.0,
    )
