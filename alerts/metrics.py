"""The delivery side's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "fillstream_alerts_deliveries_total",
    "Alert deliveries finished, by channel and outcome (delivered or failed, retries spent).",
    ["channel", "outcome"],
)
ATTEMPTS = Counter(
    "fillstream_alerts_delivery_attempts_total",
    "Attempts to deliver an alert to a channel, retries included.",
    ["channel"],
)
DELIVERY_SECONDS = Histogram(
    "fillstream_alerts_delivery_seconds",
    "From an alert handed to the dispatcher to the channel having delivered it.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
QUEUE_DEPTH = Gauge(
    "fillstream_alerts_queue_depth",
    "Deliveries handed to a channel's worker and not finished (queued or being attempted).",
    ["channel"],
)
REPORTS = Counter(
    "fillstream_reports_total",
    "Scheduled reports finished per channel: delivered, failed (after every retry; tried again "
    "later) or skipped (due longer ago than the catch-up window).",
    ["kind", "channel", "outcome"],
)
REPORT_LATE = Counter(
    "fillstream_reports_late_total",
    "Scheduled reports delivered late (the notifier was down or the channel failing at their "
    "time).",
    ["kind", "channel"],
)
REPORTS_CHECKED = Gauge(
    "fillstream_reports_checked_timestamp_seconds",
    "When the report scheduler last finished looking for reports due (and sending them).",
)
