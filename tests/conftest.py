"""Fixtures shared by every test: the services under test and per-test ``Settings``; and the
tests of the real NinjaTrader exports (``real_samples``), deselected while
``FILLSTREAM_NT_SAMPLES`` is unset, since nothing is ever skipped.

See ``tests/fixtures/services.py`` for where Kafka and PostgreSQL come from (existing clusters,
``FILLSTREAM_TESTCONTAINERS=1``, or local processes started for the session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from core.settings import Settings
from tests.fixtures.kafka_clients import check_none_alive, live_clients
from tests.fixtures.ntsamples import SAMPLES_SETTING
from tests.fixtures.services import Endpoints, service_endpoints, settings_for, temporary_home

hypothesis_settings.register_profile("fillstream", deadline=None)
hypothesis_settings.load_profile("fillstream")
"""No per-example deadline: on a busy two-core machine an example's time says nothing about the
code (performance is measured by ``make bench``), and a deadline made property tests flaky."""

_deselected: list[pytest.Item] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``FILLSTREAM_NT_SAMPLES`` (a clone alone), the tests of the real exports are not
    run: deselected, not skipped; their stand-ins in ``tests/data`` are tested all the same."""
    if os.environ.get(SAMPLES_SETTING):
        return
    _deselected.extend(item for item in items if item.get_closest_marker("real_samples"))
    if _deselected:
        items[:] = [item for item in items if not item.get_closest_marker("real_samples")]
        config.hook.pytest_deselected(items=_deselected)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _deselected:
        terminalreporter.write_line(
            f"{len(_deselected)} tests of the real NinjaTrader exports not run: "
            f"{SAMPLES_SETTING} does not name their folder"
        )


@pytest.fixture(scope="session")
def services(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    """``(bootstrap_servers, dsn)`` of the Kafka and PostgreSQL for this test session.

    Before they stop, no Kafka client may be left alive (``tests/fixtures/kafka_clients.py``),
    unless a test failed (its traceback may hold the clients it had)."""
    with temporary_home() as home, service_endpoints(home) as endpoints:
        yield endpoints
        if not request.session.testsfailed:
            check_none_alive(live_clients())


@pytest.fixture
def settings(services: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a namespace of its own (topics created), home and ports for one test."""
    return settings_for(services, tmp_path_factory.mktemp("home"))
