"""The bridge's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter(
    "fillstream_bridge_events_accepted_total", "Events acknowledged durable, by type.", ["type"]
)
EVENTS_REJECTED = Counter(
    "fillstream_bridge_events_rejected_total", "Requests rejected, by reason.", ["reason"]
)
PUBLISH_SECONDS = Histogram(
    "fillstream_bridge_publish_seconds",
    "Time from receiving a request to Kafka acknowledging all its events.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUBLISH_FAILURES = Counter(
    "fillstream_bridge_publish_failures_total", "Batches Kafka did not acknowledge."
)
LAST_HEARTBEAT = Gauge(
    "fillstream_bridge_feed_last_heartbeat_timestamp_seconds",
    "Event time of the last heartbeat from NinjaTrader, per connection.",
    ["connection"],
)
