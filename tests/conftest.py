"""Fixtures shared by every test: the services under test and per-test ``Settings``.

See ``tests/harness.py`` for where Kafka and PostgreSQL come from (existing clusters,
``FILLSTREAM_TESTCONTAINERS=1``, or local processes started for the session).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from fillstream.settings import Settings
from schemas.catalog import ensure_topics
from tests.harness import Endpoints, free_ports, service_endpoints, temporary_home


@pytest.fixture(scope="session")
def services() -> Iterator[Endpoints]:
    """``(bootstrap_servers, dsn)`` of the Kafka and PostgreSQL for this test session."""
    with temporary_home() as home, service_endpoints(home) as endpoints:
        yield endpoints


@pytest.fixture
def settings(services: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a namespace of its own (topics created), home and ports for one test."""
    bridge_port, worker_port, projector_port = free_ports(3)
    settings = Settings.from_env(
        {
            "FILLSTREAM_NAMESPACE": "t" + secrets.token_hex(5),
            "KAFKA_BOOTSTRAP_SERVERS": services.bootstrap_servers,
            "DATABASE_URL": services.dsn,
            "FILLSTREAM_TOKEN": secrets.token_urlsafe(24),
            "FILLSTREAM_HOME": str(tmp_path_factory.mktemp("home")),
            "FILLSTREAM_BRIDGE_PORT": str(bridge_port),
            "FILLSTREAM_WORKER_PORT": str(worker_port),
            "FILLSTREAM_PROJECTOR_PORT": str(projector_port),
        }
    )
    ensure_topics(settings)
    return settings
