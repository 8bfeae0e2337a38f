"""Health events and their figures, built from real Prometheus registries (no Kafka)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from core.health_events import (
    bridge_figures,
    is_stopping,
    projector_figures,
    sample_sum,
    service_checked,
    stopping_checks,
    worker_figures,
)
from schemas.codec import default_codec
from schemas.events import ServiceChecked, Source

AT = datetime(2026, 9, 22, 13, 35, 30, 250000, tzinfo=UTC)
STARTED = datetime(2026, 9, 22, 13, 0, tzinfo=UTC)


def check(
    checks: Mapping[str, bool] | None = None, figures: Mapping[str, float] | None = None
) -> ServiceChecked:
    """A worker's check at ``AT``, by default healthy with a lag of 3."""
    return service_checked(
        service="worker",
        instance="host-1:8788",
        checks={"kafka": True, "caught up": True} if checks is None else checks,
        figures={"lag_records": 3.0} if figures is None else figures,
        interval_seconds=30,
        started_at=STARTED,
        at=AT,
    )


def test_a_check_is_healthy_only_when_every_check_passed() -> None:
    event = check()
    assert event.healthy
    assert event.envelope.event_id == "worker|host-1:8788|2026-09-22T13:35:30.250000+00:00"
    assert event.envelope.ts_event == event.envelope.ts_ingested == AT
    assert event.envelope.source is Source.UNKNOWN
    assert event.envelope.producer.startswith("fillstream-health/")
    assert (event.interval_seconds, event.started_at) == (30, STARTED)
    failing = check(checks={"kafka": False, "caught up": True})
    assert not failing.healthy
    assert check(checks={}).healthy


def test_a_check_survives_the_codec_and_leaves_out_figures_that_are_not_numbers() -> None:
    event = check(figures={"lag_records": 3.0, "bad": math.nan, "worse": math.inf})
    assert event.figures == {"lag_records": 3.0}
    codec = default_codec()
    assert codec.decode(codec.encode(event)) == event


def test_a_clean_stop_fails_only_running() -> None:
    last = check(checks=stopping_checks())
    assert not last.healthy and is_stopping(last)
    assert not is_stopping(check())
    unhealthy = check(checks={"kafka": False})
    assert not is_stopping(unhealthy)


def test_bridge_figures_count_rejections_the_spool_and_each_feed() -> None:
    registry = CollectorRegistry()
    rejected = Counter(
        "fillstream_bridge_events_rejected_total", "r", ["reason"], registry=registry
    )
    rejected.labels("bad token").inc(2)
    rejected.labels("bad json").inc(3)
    Gauge("fillstream_bridge_spool_records", "s", registry=registry).set(7)
    Counter("fillstream_bridge_events_accepted_total", "a", ["type"], registry=registry).labels(
        "execution"
    ).inc(100)  # not an error
    figures = bridge_figures(registry.collect(), {"Rithmic": 4.5, "CQG": 61.0})
    assert figures == {
        "errors_total": 5.0,
        "spool_records": 7.0,
        "feed_age_seconds|CQG": 61.0,
        "feed_age_seconds|Rithmic": 4.5,
    }
    assert bridge_figures(CollectorRegistry().collect(), {}) == {
        "errors_total": 0.0,
        "spool_records": 0.0,
    }


def test_worker_figures_take_the_worst_lag_dead_letters_and_recovery() -> None:
    registry = CollectorRegistry()
    lag = Gauge(
        "fillstream_consumer_lag_records", "l", ["group", "topic", "partition"], registry=registry
    )
    lag.labels("g", "raw.executions", "0").set(12)
    lag.labels("g", "raw.executions", "1").set(40)
    dead = Counter("fillstream_stream_dead_letters_total", "d", ["reason"], registry=registry)
    dead.labels("undecodable").inc(2)
    dead.labels("invalid").inc()
    recovery = Gauge(
        "fillstream_stream_recovery_remaining_records", "r", ["stage"], registry=registry
    )
    recovery.labels("matching").set(900)
    recovery.labels("performance").set(100)
    assert worker_figures(registry.collect()) == {
        "lag_records": 40.0,
        "errors_total": 3.0,
        "recovery_remaining_records": 1000.0,
    }


def test_projector_figures_count_only_dead_letters_as_errors() -> None:
    registry = CollectorRegistry()
    events = Counter(
        "fillstream_projector_events_total", "e", ["projection", "outcome"], registry=registry
    )
    events.labels("trades", "projected").inc(50)
    events.labels("trades", "dead_letter").inc(2)
    events.labels("orders", "dead_letter").inc(1)
    Gauge(
        "fillstream_consumer_lag_records", "l", ["group", "topic", "partition"], registry=registry
    ).labels("p", "derived.trades", "0").set(5)
    assert projector_figures(registry.collect()) == {"lag_records": 5.0, "errors_total": 3.0}


def test_sample_sum_reads_a_counter_by_its_samples_name_not_its_families() -> None:
    registry = CollectorRegistry()
    Counter("things_total", "t", registry=registry).inc(4)
    families = list(registry.collect())
    assert sample_sum(families, "things_total") == 4.0
    assert sample_sum(families, "things") == 0.0  # the family's name; _created is not counted
