"""Test plumbing: polling with a timeout, free ports, and the Kafka and PostgreSQL under test.

Where the services come from, in order:

- ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``, when set, name existing ones (each on its own);
- ``FILLSTREAM_TESTCONTAINERS=1`` starts both in Docker with testcontainers
  (``pip install 'testcontainers[kafka,postgres]'``; images overridable with
  ``FILLSTREAM_TC_KAFKA_IMAGE`` and ``FILLSTREAM_TC_POSTGRES_IMAGE``);
- otherwise a ``LocalKafka`` and a ``LocalPostgres`` run in a ``temporary_home()`` on free
  ports, using the Kafka jars resolved at ``<project root>/.fillstream/kafka/libs``.

A service that cannot be started fails the tests: nothing is ever skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from core.errors import ServiceError
from core.kafka import ensure_topics
from core.settings import PROJECT_ROOT, Settings
from deploy.kafka import LocalKafka
from deploy.postgres import LocalPostgres

KAFKA_LIBS = PROJECT_ROOT / ".fillstream" / "kafka" / "libs"
TC_KAFKA_IMAGE = "confluentinc/cp-kafka:8.1.0"  # Apache Kafka 4.1, like deploy/kafka/pom.xml
TC_POSTGRES_IMAGE = "postgres:15-alpine"


class Endpoints(NamedTuple):
    bootstrap_servers: str
    dsn: str


def wait_for(
    predicate: Callable[[], Any], timeout: float = 10, interval: float = 0.05, message: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that; AssertionError
    with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout:g}s: {predicate}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing was bound to a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all held open while choosing, so none repeats)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@contextmanager
def service_endpoints(home: Path, environ: Mapping[str, str] = os.environ) -> Iterator[Endpoints]:
    """The Kafka and PostgreSQL the tests use, started under ``home`` when not given."""
    if environ.get("FILLSTREAM_TESTCONTAINERS") == "1":
        with _testcontainers(environ) as endpoints:
            yield endpoints
        return
    with ExitStack() as stack:
        bootstrap = (
            environ.get("KAFKA_BOOTSTRAP_SERVERS")
            or stack.enter_context(local_kafka(home)).bootstrap
        )
        dsn = environ.get("DATABASE_URL") or stack.enter_context(local_postgres(home)).dsn
        yield Endpoints(bootstrap, dsn)


@contextmanager
def local_kafka(home: Path, ports: tuple[int, int] | None = None) -> Iterator[LocalKafka]:
    """A started broker under ``home`` on ``ports`` (client, controller; free ones by default),
    stopped on exit."""
    port, controller_port = ports or free_ports(2)
    kafka = LocalKafka(home=home, port=port, controller_port=controller_port, libs_dir=KAFKA_LIBS)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@contextmanager
def local_postgres(home: Path) -> Iterator[LocalPostgres]:
    """A started cluster under ``home`` on a free port, stopped on exit."""
    postgres = LocalPostgres(home=home, port=free_port())
    postgres.start()
    try:
        yield postgres
    finally:
        postgres.stop()


@contextmanager
def temporary_home(prefix: str = "fillstream-test-") -> Iterator[Path]:
    """A fresh directory for local services, deleted on exit.

    Not one of pytest's temporary directories: as root, PostgreSQL runs as the ``postgres``
    system user, which must be able to enter the directory, and pytest makes its own
    private (0700) again whenever any session starts.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            home.chmod(0o755)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _testcontainers(environ: Mapping[str, str]) -> Iterator[Endpoints]:
    try:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer
    except ImportError as e:
        raise ServiceError(
            "testcontainers",
            "FILLSTREAM_TESTCONTAINERS=1 needs "
            f"`pip install 'testcontainers[kafka,postgres]'` ({e})",
        ) from e
    kafka = KafkaContainer(environ.get("FILLSTREAM_TC_KAFKA_IMAGE", TC_KAFKA_IMAGE)).with_kraft()
    postgres = PostgresContainer(
        environ.get("FILLSTREAM_TC_POSTGRES_IMAGE", TC_POSTGRES_IMAGE),
        username="fillstream",
        password="fillstream",
        dbname="fillstream",
    )
    with kafka, postgres:
        yield Endpoints(kafka.get_bootstrap_server(), postgres.get_connection_url(driver=None))


def settings_for(services: Endpoints, home: Path, **environ: str) -> Settings:
    """Settings of a namespace of its own (topics created) on ``services``, with ``home`` and
    free ports, and ``environ`` besides."""
    bridge_port, worker_port, projector_port = free_ports(3)
    settings = Settings.from_env(
        {
            "FILLSTREAM_NAMESPACE": "t" + secrets.token_hex(5),
            "KAFKA_BOOTSTRAP_SERVERS": services.bootstrap_servers,
            "DATABASE_URL": services.dsn,
            "FILLSTREAM_TOKEN": secrets.token_urlsafe(24),
            "FILLSTREAM_HOME": str(home),
            "FILLSTREAM_BRIDGE_PORT": str(bridge_port),
            "FILLSTREAM_WORKER_PORT": str(worker_port),
            "FILLSTREAM_PROJECTOR_PORT": str(projector_port),
            **environ,
        }
    )
    ensure_topics(settings)
    return settings
