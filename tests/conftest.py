"""Fixtures shared by every test: the services under test and per-test ``Settings``.

See ``tests/fixtures/services.py`` for where Kafka and PostgreSQL come from (existing clusters,
``FILLSTREAM_TESTCONTAINERS=1``, or local processes started for the session).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from tests.fixtures.kafka_clients import check_none_alive, live_clients
from tests.fixtures.services import Endpoints, service_endpoints, settings_for, temporary_home


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
