"""Health checks as events: the ``ServiceChecked`` each process publishes to ``health`` (see
``core.health_reporter``), and the figures it carries, read from the process's own
Prometheus metrics. Nothing here talks to Kafka.

The figures' names are a contract (the alert rules read them; the doc of ``figures`` in
``fillstream.ServiceChecked.avsc`` lists them):

- ``lag_records``: the worst partition's consumer lag (worker, projector);
- ``errors_total``: events given up on since the process started: requests the bridge
  rejected, events the worker or a projector sent to a dead-letter topic;
- ``recovery_remaining_records``: changelog records the worker's stages have yet to restore;
- ``spool_records``: records waiting in the bridge's disk spool;
- ``feed_age_seconds|<connection>``: seconds since the bridge's last heartbeat of a
  NinjaTrader connection;
- ``stalled_seconds|<stage>``: how long records have waited for a worker's stage with no
  progress (0 while it progresses or nothing waits; ``streams.runtime.stalls``).

A clean stop is reported by one last check that fails only ``running``; the uptime projection
counts the time after it as stopped rather than silent (a crash).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

from confluent_kafka import Producer
from prometheus_client.metrics_core import Metric

from core.kafka import producer_config
from core.lag import worst
from core.settings import Settings
from schemas.catalog import record_headers
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, ServiceChecked, Source, schema_name

PRODUCER = "fillstream-health/0.1.0"

RUNNING = "running"
"""The check that a process's last health event fails, and only that one: it is stopping."""

LAG_RECORDS = "lag_records"
ERRORS_TOTAL = "errors_total"
RECOVERY_REMAINING_RECORDS = "recovery_remaining_records"
SPOOL_RECORDS = "spool_records"
FEED_AGE_SECONDS = "feed_age_seconds"
"""A prefix: one figure per connection, ``feed_age_seconds|<connection>``."""
STALLED_SECONDS = "stalled_seconds"
"""A prefix: one figure per stage of the worker, ``stalled_seconds|<stage>``."""


def service_checked(
    *,
    service: str,
    instance: str,
    checks: Mapping[str, bool],
    figures: Mapping[str, float],
    interval_seconds: int,
    started_at: datetime,
    at: datetime,
) -> ServiceChecked:
    """The health check of ``service`` at ``instance`` made at ``at``: healthy when every check
    passed. Figures that are not finite numbers are left out."""
    return ServiceChecked(
        envelope=Envelope(
            event_id=EventId(f"{service}|{instance}|{at.isoformat()}"),
            ts_event=at,
            ts_ingested=at,
            source=Source.UNKNOWN,  # as other events fillstream makes itself
            producer=PRODUCER,
        ),
        service=service,
        instance=instance,
        healthy=all(checks.values()),
        checks=dict(checks),
        figures={name: value for name, value in figures.items() if math.isfinite(value)},
        interval_seconds=interval_seconds,
        started_at=started_at,
    )


def stopping_checks() -> dict[str, bool]:
    """The checks of a process's last health event before a clean stop."""
    return {RUNNING: False}


def is_stopping(check: ServiceChecked) -> bool:
    """Whether ``check`` is a process's last one before a clean stop."""
    return check.checks.get(RUNNING) is False


def bridge_figures(families: Iterable[Metric], feed_ages: Mapping[str, float]) -> dict[str, float]:
    """The bridge's figures from its registry's metrics and its NinjaTrader feeds' ages."""
    found = list(families)
    figures = {
        ERRORS_TOTAL: sample_sum(found, "fillstream_bridge_events_rejected_total"),
        SPOOL_RECORDS: sample_sum(found, "fillstream_bridge_spool_records"),
    }
    for connection, age in sorted(feed_ages.items()):
        figures[f"{FEED_AGE_SECONDS}|{connection}"] = age
    return figures


def worker_figures(families: Iterable[Metric]) -> dict[str, float]:
    """The worker's figures from the metrics of all its stage processes."""
    found = list(families)
    return {
        LAG_RECORDS: worst(found),
        ERRORS_TOTAL: sample_sum(found, "fillstream_stream_dead_letters_total"),
        RECOVERY_REMAINING_RECORDS: sample_sum(
            found, "fillstream_stream_recovery_remaining_records"
        ),
    }


def projector_figures(families: Iterable[Metric]) -> dict[str, float]:
    """The projectors' figures from their lag and event counts."""
    found = list(families)
    return {
        LAG_RECORDS: worst(found),
        ERRORS_TOTAL: sample_sum(found, "fillstream_projector_events_total", outcome="dead_letter"),
    }


def sample_sum(families: Iterable[Metric], sample: str, **labels: str) -> float:
    """The sum of the samples named ``sample`` (``…_total`` for a counter's count) whose labels
    include ``labels``; 0 without any."""
    return sum(
        (
            s.value
            for family in families
            for s in family.samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        ),
        0.0,
    )


def publish_check(settings: Settings, check: ServiceChecked, *, timeout: float = 10.0) -> bool:
    """One health check of a short-lived job (a rebuild's outcome, an accuracy run) on the
    ``health`` topic, keyed ``service|instance``; whether Kafka took it within ``timeout``."""
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topic("health"),
        key=f"{check.service}|{check.instance}".encode(),
        value=default_codec().encode(check),
        headers=list(record_headers(schema_name(check), check.envelope.event_id)),
    )
    return producer.flush(timeout) == 0
