"""Fixtures shared by every test: the services under test and per-test ``Settings``.

See ``tests/harness.py`` for where Kafka and PostgreSQL come from (existing clusters,
``FILLSTREAM_TESTCONTAINERS=1``, or local processes started for the session).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from tests.harness import Endpoints, service_endpoints, settings_for, temporary_home


@pytest.fixture(scope="session")
def services() -> Iterator[Endpoints]:
    """``(bootstrap_servers, dsn)`` of the Kafka and PostgreSQL for this test session."""
    with temporary_home() as home, service_endpoints(home) as endpoints:
        yield endpoints


@pytest.fixture
def settings(services: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a namespace of its own (topics created), home and ports for one test."""
    return settings_for(services, tmp_path_factory.mktemp("home"))
