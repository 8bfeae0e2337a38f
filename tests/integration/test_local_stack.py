"""The local runners: idempotent start, data that survives a restart, a clear port clash."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from core import process as _process
from core.errors import ServiceError
from core.settings import Settings
from deploy.kafka import LocalKafka
from deploy.postgres import LocalPostgres
from deploy.services import SERVICES
from fillstream.report import collect_status, render_table
from schemas.catalog import load_catalog
from tests.fixtures.services import KAFKA_LIBS, free_port, free_ports, temporary_home, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def home() -> Iterator[Path]:
    with temporary_home() as home:
        yield home


@pytest.fixture
def kafka(home: Path) -> Iterator[LocalKafka]:
    port, controller_port = free_ports(2)
    kafka = LocalKafka(home=home, port=port, controller_port=controller_port, libs_dir=KAFKA_LIBS)
    yield kafka
    kafka.stop()


@pytest.fixture
def postgres(home: Path) -> Iterator[LocalPostgres]:
    postgres = LocalPostgres(home=home, port=free_port())
    yield postgres
    postgres.stop()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def test_kafka_start_is_idempotent_and_keeps_its_data(kafka: LocalKafka) -> None:
    kafka.start()
    pid = _process.read_pid(kafka.pid_path)
    kafka.start()
    assert _process.read_pid(kafka.pid_path) == pid

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic("survivor", num_partitions=2, replication_factor=1)])[
        "survivor"
    ].result()
    kafka.stop()
    assert not kafka.is_running()

    kafka.start()
    assert kafka.is_running()
    assert "survivor" in topics(kafka.bootstrap)


def test_postgres_start_is_idempotent_and_keeps_its_data(postgres: LocalPostgres) -> None:
    postgres.start()
    postgres.start()
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (id int PRIMARY KEY)")
        conn.execute("INSERT INTO survivor VALUES (42)")
    postgres.stop()
    assert not postgres.is_running()

    postgres.start()
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("SELECT id FROM survivor").fetchall() == [(42,)]


def test_kafka_on_a_taken_port_names_the_port_and_setting(home: Path, taken_port: int) -> None:
    kafka = LocalKafka(home=home, port=taken_port, controller_port=free_port(), libs_dir=KAFKA_LIBS)

    with pytest.raises(ServiceError) as caught:
        kafka.start()

    assert caught.value.service == "kafka"
    assert f"port {taken_port}" in str(caught.value)
    assert "FILLSTREAM_KAFKA_PORT" in str(caught.value)
    assert not kafka.is_running()


def test_postgres_on_a_taken_port_names_the_port_and_setting(home: Path, taken_port: int) -> None:
    postgres = LocalPostgres(home=home, port=taken_port)

    with pytest.raises(ServiceError) as caught:
        postgres.start()

    assert caught.value.service == "postgres"
    assert f"port {taken_port}" in str(caught.value)
    assert "FILLSTREAM_PG_PORT" in str(caught.value)


def test_each_test_gets_a_namespace_with_the_catalog_topics(settings: Settings) -> None:
    expected = {settings.topic(name) for name in load_catalog()}

    assert expected <= topics(settings.bootstrap_servers)


def test_status_reports_topics_and_consumer_lag(settings: Settings) -> None:
    topic = settings.topic("raw.executions")
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for i in range(5):
        producer.produce(topic, key=b"ACC1|ES", value=str(i).encode())
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("lagging"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[Message] = []

    def two_received() -> bool:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            received.append(message)
        return len(received) >= 2

    wait_for(two_received, timeout=30, message="the consumer got no records")
    consumer.commit(message=received[1], asynchronous=False)
    consumer.close()

    status = collect_status(settings)

    assert status.broker.reachable and status.database.reachable
    assert {t.name: t.partitions for t in status.topics}[topic] == 3
    assert [(g.group_id, g.lag) for g in status.groups] == [(settings.group("lagging"), 3)]
    assert [s.running for s in status.services] == [False] * len(SERVICES)
    table = render_table(status)
    assert topic in table and settings.group("lagging") in table
