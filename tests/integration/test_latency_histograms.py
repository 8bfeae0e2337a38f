"""The latency histograms, served by the running worker and projectors: those from event time
(``…_event_to_derived_seconds``, ``…_event_to_projected_seconds``) count each trade and event
from when it happened, those from ingestion from when the bridge recorded it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from tests.fixtures.pipeline import execution, post
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running, scrape, trade_count

pytestmark = pytest.mark.integration

AGO = timedelta(hours=2)
"""How long before the test its executions happened (every exit at least that long)."""


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def round_trips(count: int) -> list[dict[str, Any]]:
    """``count`` long NQ round trips, each exit at least ``AGO`` before now."""
    last_exit = datetime.now(UTC) - AGO
    events = []
    for n in range(count):
        exit_at = last_exit - timedelta(minutes=count - n)
        entry_at = exit_at - timedelta(seconds=30)
        events.append(execution(f"l{n}-in", "buy", "21000", ts=entry_at.isoformat()))
        events.append(execution(f"l{n}-out", "sell", "21001", ts=exit_at.isoformat()))
    return events


def histogram(port: int, name: str, **labels: str) -> tuple[float, float]:
    """(count, sum) of the histogram ``name`` served on ``port`` (its series with ``labels``);
    (0, 0) while it has none."""
    count = total = 0.0
    for family in text_string_to_metric_families(scrape(port)):
        for sample in family.samples:
            if labels.items() <= sample.labels.items():
                if sample.name == f"{name}_count":
                    count += sample.value
                elif sample.name == f"{name}_sum":
                    total += sample.value
    return count, total


def counted(port: int, name: str, at_least: int, **labels: str) -> tuple[float, float]:
    """``histogram`` once it has counted ``at_least`` observations."""
    found: tuple[float, float] = wait_for(
        lambda: (seen := histogram(port, name, **labels))[0] >= at_least and seen,
        timeout=30,
        message=f"{name}{labels or ''}: fewer than {at_least} observations",
    )
    return found


def test_latency_is_served_from_event_time_and_from_ingestion(
    settings: Settings, pipeline: Pipeline
) -> None:
    ago = AGO.total_seconds()
    assert post(settings, round_trips(2))[0] == 202
    wait_for(lambda: trade_count(settings) == 2, timeout=60, message="no trades projected")

    # the worker: each trade from its exit, and from the bridge recording its closing execution
    worker = settings.worker_port
    count, total = counted(worker, "fillstream_stream_event_to_derived_seconds", 2)
    assert count == 2 and 2 * ago <= total < 2 * (ago + 600)
    count, total = counted(worker, "fillstream_stream_ingest_to_derived_seconds", 2)
    assert count == 2 and total < 2 * 60

    # the projectors: rows read straight from payloads (trades, whose rows hold no ts_event;
    # executions, whose rows do) and made of decoded events (positions: the last of each key
    # in a batch, so from 1 to 4), once committed
    projector = settings.projector_port
    for projection, events in (("trades", 2), ("executions", 4), ("positions", 1)):
        count, total = counted(projector, "fillstream_projector_event_to_projected_seconds",
                               events, projection=projection)  # fmt: skip
        assert count >= events and count * ago <= total < count * (ago + 600), projection
        ingest = histogram(projector, "fillstream_projector_ingest_to_projected_seconds",
                           projection=projection)  # fmt: skip
        assert ingest[0] == count and ingest[1] < count * 60, projection
