"""The nightly data-accuracy run, in the projector processes on a real broker and PostgreSQL:
due at start (the last trading day's run was missed), claimed by one of two projector processes,
run once, each projection's accuracy recorded as a health check and projected."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.settings import Settings
from domain.accuracy import due
from projections import PROJECTIONS
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess, query
from tests.fixtures.services import free_ports, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def projectors(settings: Settings) -> Iterator[list[Settings]]:
    migrate(settings)
    ports = free_ports(2)
    each = [dataclasses.replace(settings, accuracy_schedule=0, projector_port=p) for p in ports]
    running = [ServiceProcess(s, "project", s.projector_port).start() for s in each]
    try:
        yield each
    finally:
        for process in running:
            process.stop()


def test_two_projectors_run_the_days_accuracy_once_and_record_every_projection(
    projectors: list[Settings],
) -> None:
    settings = projectors[0]
    runs = "SELECT trading_day, finished_at IS NOT NULL, projections, lowest FROM accuracy_runs"
    wait_for(lambda: any(r[1] for r in query(settings, runs)), timeout=240,
             message=f"no accuracy run finished: {query(settings, runs)}")  # fmt: skip
    ((day, finished, count, lowest),) = query(settings, runs)  # one run, whoever claimed it
    assert finished and count == len(PROJECTIONS) and lowest == 1.0
    assert day == due(datetime.now(UTC), 0, None)
    recorded = (
        "SELECT DISTINCT jsonb_object_keys(figures) FROM service_checks WHERE service = 'accuracy'"
    )
    wanted = {f"accuracy|{p.name}" for p in PROJECTIONS} | {"accuracy|imported-trades"}
    wait_for(lambda: wanted <= {k for (k,) in query(settings, recorded)}, timeout=60,
             message=f"accuracy figures: {query(settings, recorded)}")  # fmt: skip
    trades = (
        "SELECT (figures->>'accuracy|trades')::float8 FROM service_checks"
        " WHERE service = 'accuracy' AND figures ? 'accuracy|trades'"
    )
    assert query(settings, trades) == [(1.0,)]  # recorded once: one process ran the day
