"""Kafka client factories and the calls every process makes the same way: the producer
configuration, the catalog's topics created idempotently, batches consumed without waiting out
the timeout, watermarks asked again while a leader is elected, and quiet clients for probing a
broker that may be absent or still booting."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from core.errors import ServiceError
from core.settings import Settings
from schemas.catalog import TopicSpec, load_catalog


def _quiet_logger() -> logging.Logger:
    """Receives librdkafka's log lines (only served on poll) and drops them."""
    logger = logging.getLogger("fillstream.rdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


QUIET_LOGGER = _quiet_logger()


def quiet_admin(bootstrap_servers: str) -> AdminClient:
    """An AdminClient that does not print 'Connection refused' lines to stderr."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": QUIET_LOGGER}
    return AdminClient(config)


def probe_consumer(bootstrap_servers: str, group: str, **config: Any) -> Consumer:
    """A quiet consumer for asking about offsets: it never joins ``group`` (no subscribe),
    and commits nothing by itself."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "logger": QUIET_LOGGER,
            **config,
        }
    )


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.bootstrap_servers})


def ensure_topics(
    settings: Settings, specs: Iterable[TopicSpec] | None = None, *, timeout: float = 15.0
) -> list[str]:
    """Create the catalog's topics in ``settings.namespace`` that do not exist yet.

    Returns the names of the topics created. Existing topics are left as they are.
    """
    wanted = list(load_catalog().values() if specs is None else specs)
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as e:
        error = e.args[0]
        reason = error.str() if isinstance(error, KafkaError) else str(e)
        raise ServiceError(
            "kafka",
            f"not reachable at {settings.bootstrap_servers} ({reason}); "
            "start it with `fillstream up` or set KAFKA_BOOTSTRAP_SERVERS",
        ) from e
    new = [
        NewTopic(
            settings.topic(spec.name),
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=spec.config,
        )
        for spec in wanted
        if settings.topic(spec.name) not in existing
    ]
    if not new:
        return []
    created = []
    for topic, future in admin.create_topics(new, operation_timeout=30).items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ServiceError("kafka", f"cannot create topic {topic}: {e}") from e
    _await_metadata(admin, [t.topic for t in new], timeout)
    return created


def _await_metadata(admin: AdminClient, topics: list[str], timeout: float) -> None:
    """Wait until the broker's metadata has every one of ``topics`` with its partitions: a
    topic just created may not be in it yet, and a client asking then is told it is unknown."""
    deadline = time.monotonic() + timeout
    while True:
        listed = admin.list_topics(timeout=timeout).topics
        missing = [
            t for t in topics if t not in listed or listed[t].error or not listed[t].partitions
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise ServiceError(
                "kafka",
                f"topics created but not in the broker's metadata after {timeout:.0f} s:"
                f" {', '.join(missing)}",
            )
        time.sleep(0.05)  # polling the broker's metadata


def producer_config(settings: Settings) -> dict[str, object]:
    """How every fillstream producer writes: idempotent, acknowledged by all replicas, keys
    partitioned like Kafka's Java client."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "none",
        # the Java client's partitioner, so keys land where Kafka's own tools would put them
        "partitioner": "murmur2_random",
        "message.timeout.ms": 30000,
    }


def consume_batch(consumer: Consumer, size: int, wait: float) -> list[Message]:
    """Up to ``size`` messages: waits up to ``wait`` seconds for the first, then takes only what
    has already arrived. (``Consumer.consume(size, timeout)`` waits out the whole timeout unless
    ``size`` messages come, which would add it to every record's latency.)"""
    first = consumer.consume(1, timeout=wait)
    if not first or size <= 1:
        return first
    return first + consumer.consume(size - 1, timeout=0)


def watermarks(consumer: Consumer, tp: TopicPartition, timeout: float = 10.0) -> tuple[int, int]:
    """The partition's first and end offsets, asked again while the broker is still electing
    its leader (a topic just created)."""
    deadline = time.monotonic() + 3 * timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            return int(low), int(high)
        except KafkaException as e:
            error = e.args[0] if e.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable()
                or error.code()
                in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART)
            )  # fmt: skip
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the broker's metadata catches up within a second or two
