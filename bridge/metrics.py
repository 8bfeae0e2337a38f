"""The bridge's Prometheus metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

EVENTS_ACCEPTED = Counter(
    "fillstream_bridge_events_accepted_total", "Events stored durably, by type.", ["type"]
)
EVENTS_REJECTED = Counter(
    "fillstream_bridge_events_rejected_total", "Requests rejected, by reason.", ["reason"]
)
PUBLISH_SECONDS = Histogram(
    "fillstream_bridge_publish_seconds",
    "From receiving a request to its events being durable (Kafka ack or spool fsync).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUBLISH_FAILURES = Counter(
    "fillstream_bridge_publish_failures_total", "Batches neither Kafka nor the spool could store."
)
ASSIGNMENTS = Counter(
    "fillstream_bridge_assignments_total",
    "Signals assigned to an experiment arm (POST /v1/assignments), by arm.",
    ["arm"],
)
ASSIGNMENT_SECONDS = Histogram(
    "fillstream_bridge_assignment_seconds",
    "Time to answer POST /v1/assignments, storing the assignment included.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
DECISIONS = Counter(
    "fillstream_bridge_decisions_total",
    "Pre-trade decisions answered (POST /v1/decisions), by decision: allow, deny, or "
    "unavailable (503: the log not read yet, or the decision not stored).",
    ["decision"],
)
_DECISION_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015,
                     0.02, 0.03, 0.05, 0.1, 0.25, 1.0)  # fmt: skip
DECISION_SECONDS = Histogram(
    "fillstream_bridge_decision_seconds",
    "Time to answer POST /v1/decisions, storing the decision in Kafka included.",
    buckets=_DECISION_BUCKETS,
)
DECISION_PART_SECONDS = Histogram(
    "fillstream_bridge_decision_part_seconds",
    "Where a decision's time goes, by part: parse (the request's JSON), wait (for the state's "
    "lock), evaluate (the rules, sizing and calibration, applied to the state, handed to the "
    "producer), store (until Kafka acknowledged it).",
    ["part"],
    buckets=_DECISION_BUCKETS,
)
SPOOLED = Counter("fillstream_bridge_spooled_records_total", "Records written to the disk spool.")
DRAINED = Counter("fillstream_bridge_drained_records_total", "Spooled records delivered to Kafka.")
SPOOL_RECORDS = Gauge("fillstream_bridge_spool_records", "Records waiting in the disk spool.")
SPOOL_BYTES = Gauge("fillstream_bridge_spool_bytes", "Size of the undelivered part of the spool.")
KAFKA_UP = Gauge("fillstream_bridge_kafka_up", "1 while the bridge publishes directly to Kafka.")


class FeedMonitor(Collector):
    """NinjaTrader heartbeats per connection: age of the last one and whether it is recent.

    Ages are computed at scrape time, so silence shows even when nothing arrives at all.
    """

    def __init__(self, silence_seconds: float) -> None:
        self.silence_seconds = silence_seconds
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def heartbeat(self, connection: str, received_at: float | None = None) -> None:
        with self._lock:
            self._last[connection] = time.time() if received_at is None else received_at

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        with self._lock:
            last = dict(self._last)
        age = GaugeMetricFamily(
            "fillstream_bridge_feed_age_seconds",
            "Seconds since the bridge received the last heartbeat of a NinjaTrader connection.",
            labels=["connection"],
        )
        alive = GaugeMetricFamily(
            "fillstream_bridge_feed_alive",
            "1 if a heartbeat arrived within FILLSTREAM_FEED_SILENCE_SECONDS, else 0.",
            labels=["connection"],
        )
        for connection, at in sorted(last.items()):
            age.add_metric([connection], now - at)
            alive.add_metric([connection], 1.0 if now - at <= self.silence_seconds else 0.0)
        yield age
        yield alive

    def ages(self) -> dict[str, float]:
        now = time.time()
        with self._lock:
            return {connection: now - at for connection, at in self._last.items()}


def feed_monitor(silence_seconds: float) -> FeedMonitor:
    """The process's feed monitor, registered with Prometheus once."""
    global _FEED
    if _FEED is None:
        _FEED = FeedMonitor(silence_seconds)
        REGISTRY.register(_FEED)
    _FEED.silence_seconds = silence_seconds
    return _FEED


_FEED: FeedMonitor | None = None
