"""The contract roots defined in the log (``raw.instruments``): read whole for the import's check
and ``fillstream instruments``, and one definition published.

Reading assigns every partition and reads from the beginning to the end offsets taken at the
start, with bounded waits; it joins no group and commits nothing. A topic that does not exist
yet holds no definition.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from bridge.imports.kafka import REACH_TIMEOUT, publish
from bridge.publisher import kafka_record
from core.errors import CodecError, ServiceError
from core.kafka import consume_batch, ensure_topics, probe_consumer, watermarks
from core.settings import Settings
from domain.contracts import ContractBook
from schemas.catalog import RAW_INSTRUMENTS
from schemas.codec import Codec
from schemas.events import InstrumentDefined


def read_definitions(
    settings: Settings, codec: Codec, *, timeout: float = REACH_TIMEOUT
) -> tuple[InstrumentDefined, ...]:
    """Every ``InstrumentDefined`` in ``raw.instruments``, in log order within each partition
    (so a root's definitions, which share a partition, oldest first).

    Raises ``ServiceError`` when Kafka is unreachable or reading stalls for ``timeout`` seconds.
    """
    name = settings.topic(RAW_INSTRUMENTS)
    consumer = probe_consumer(
        settings.bootstrap_servers,
        settings.group("instruments"),
        **{"isolation.level": "read_committed", "auto.offset.reset": "earliest"},
    )
    found: list[tuple[int, int, InstrumentDefined]] = []
    try:
        ends = _ends(consumer, settings, name, timeout)
        consumer.assign([TopicPartition(name, p, low) for p, (low, _) in ends.items()])
        remaining = {p: high for p, (_, high) in ends.items()}
        deadline = time.monotonic() + timeout
        while remaining:
            messages = consume_batch(consumer, 500, 0.2)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise ServiceError("kafka", f"cannot read {name}: {error.str()}")
                    continue
                partition, offset = message.partition(), message.offset()
                end = None if partition is None else remaining.get(partition)
                if partition is None or end is None or offset is None or offset >= end:
                    continue
                try:
                    event = codec.decode(message.value() or b"")
                except CodecError:
                    event = None  # not a definition this version can read: nothing to use
                if isinstance(event, InstrumentDefined):
                    found.append((partition, offset, event))
                if offset + 1 >= end:
                    del remaining[partition]
            if messages:
                deadline = time.monotonic() + timeout
                continue
            for tp in consumer.position([TopicPartition(name, p) for p in remaining]):
                if tp.offset >= 0 and tp.offset >= remaining.get(tp.partition, 0):
                    remaining.pop(tp.partition, None)  # past transaction markers
            if remaining and time.monotonic() > deadline:
                raise ServiceError("kafka", f"reading {name} stalled for {timeout:g}s")
    finally:
        consumer.close()
    return tuple(event for _, _, event in sorted(found, key=lambda f: (f[0], f[1])))


def contract_book(definitions: Iterable[InstrumentDefined]) -> ContractBook:
    """The built-in table with ``definitions`` folded in, in the order given."""
    book = ContractBook()
    for definition in definitions:
        book.define(definition)
    return book


def publish_definition(settings: Settings, codec: Codec, definition: InstrumentDefined) -> None:
    """Publish one definition to ``raw.instruments`` (created with the catalog if missing) and
    return once Kafka acknowledged it."""
    ensure_topics(settings)
    publish(settings, [kafka_record(settings, codec, definition)], timeout=30.0)


def _ends(
    consumer: Consumer, settings: Settings, name: str, timeout: float
) -> dict[int, tuple[int, int]]:
    """``partition -> (low, high)`` of the partitions that hold records; none for a topic that
    does not exist."""
    try:
        metadata = consumer.list_topics(name, timeout=timeout)
    except KafkaException as e:
        raise ServiceError(
            "kafka",
            f"not reachable at {settings.bootstrap_servers} ({e}); "
            "start it with `fillstream up` or set KAFKA_BOOTSTRAP_SERVERS",
        ) from e
    topic = metadata.topics.get(name)
    if topic is None or topic.error is not None:
        return {}
    ends: dict[int, tuple[int, int]] = {}
    for partition in topic.partitions:
        try:
            low, high = watermarks(consumer, TopicPartition(name, partition), timeout)
        except KafkaException as e:
            raise ServiceError(
                "kafka", f"cannot read the offsets of {name} [{partition}] ({e})"
            ) from e
        if high > low:
            ends[partition] = (low, high)
    return ends
