"""The import's Kafka edge: which event ids a topic already holds, and publishing the new ones.

Reading assigns every partition and reads from the beginning to the end offsets taken at the
start; it joins no group and commits nothing. Publishing uses the bridge's producer settings
(idempotent, ``acks=all``) and waits for every delivery report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from bridge.errors import MissingTopicError, PublishError
from bridge.spool import SpoolRecord
from core.errors import CodecError, ServiceError
from core.kafka import QUIET_LOGGER, producer_config
from core.settings import Settings
from schemas.codec import Codec

Progress = Callable[[int, int], None]

REACH_TIMEOUT = 10.0
"""Seconds to wait for the broker's metadata before calling Kafka unreachable."""


_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LogContents:
    """The event ids found in a topic, up to the end offsets seen when reading started."""

    topic: str
    event_ids: frozenset[str]
    records: int
    undecodable: int
    """Records the codec could not read (they cannot be any of the imported events)."""


def read_event_ids(
    settings: Settings,
    topic: str,
    codec: Codec,
    *,
    progress: Progress | None = None,
    timeout: float = REACH_TIMEOUT,
) -> LogContents:
    """Every event id in catalog topic ``topic`` (``raw.executions``), read from the beginning.

    Raises ``ServiceError`` when Kafka is unreachable, ``MissingTopicError`` when the topic does
    not exist.
    """
    name = settings.topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("import"),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "logger": QUIET_LOGGER,
        }
    )
    try:
        ends = _offsets(consumer, settings, name, timeout)
        total = sum(high - low for low, high in ends.values())
        consumer.assign([TopicPartition(name, p, low) for p, (low, _) in ends.items()])
        remaining = {p: high for p, (_, high) in ends.items()}
        ids: set[str] = set()
        records = undecodable = 0
        deadline = time.monotonic() + timeout
        while remaining:
            messages = consumer.consume(num_messages=1000, timeout=0.2)
            for message in messages:
                _check(message, name)
                partition, offset = message.partition(), message.offset()
                if partition not in remaining or offset is None or offset >= remaining[partition]:
                    continue
                event_id = _event_id_header(message)
                if event_id is not None:
                    ids.add(event_id)
                else:  # written before records carried their id in a header: decode
                    try:
                        ids.add(codec.decode(message.value() or b"").envelope.event_id)
                    except CodecError:
                        undecodable += 1
                records += 1
                if offset + 1 >= remaining[partition]:
                    del remaining[partition]
            if messages:
                deadline = time.monotonic() + timeout
            else:
                _drop_finished(consumer, name, remaining)
                if remaining and time.monotonic() > deadline:
                    raise ServiceError(
                        "kafka", f"reading {name} stalled for {timeout:g}s at {records} records"
                    )
            if progress is not None:
                progress(records, total)
    finally:
        consumer.close()
    return LogContents(
        topic=name, event_ids=frozenset(ids), records=records, undecodable=undecodable
    )


def publish(
    settings: Settings,
    records: Sequence[SpoolRecord],
    *,
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> None:
    """Send encoded, routed ``records`` (``kafka_record``); return once Kafka acknowledged all.

    Raises ``PublishError`` naming how many were not acknowledged (re-running an import is safe:
    what reached the log is skipped then).
    """
    producer = Producer({**producer_config(settings), "logger": QUIET_LOGGER})
    acked = 0
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        nonlocal acked
        if error is None:
            acked += 1
        else:
            failures.append(error.str())

    for sent, record in enumerate(records):
        _produce(
            producer,
            topic=record.topic,
            key=record.key,
            value=record.value,
            headers=list(record.headers),
            on_delivery=on_delivery,
        )
        if sent % 1000 == 0:
            producer.poll(0)  # serve delivery reports now and then, not once per message
            if progress is not None:
                progress(acked, len(records))
    deadline = time.monotonic() + timeout
    while acked + len(failures) < len(records) and time.monotonic() < deadline:
        producer.poll(0.1)
        if progress is not None:
            progress(acked, len(records))
    producer.flush(1)
    if acked < len(records):
        reason = failures[0] if failures else f"no acknowledgement within {timeout:g}s"
        raise PublishError(
            f"{len(records) - acked} of {len(records)} events were not acknowledged by Kafka "
            f"({reason}); re-run the same import, events already in the log are skipped"
        )


def _produce(producer: Producer, **message: Any) -> None:
    while True:
        try:
            producer.produce(**message)
        except BufferError:
            producer.poll(0.1)  # the local queue is full: serve delivery reports, then retry
            continue
        except KafkaException as e:
            raise PublishError(f"cannot produce to {message['topic']}: {e}") from e
        return


def _offsets(
    consumer: Consumer, settings: Settings, name: str, timeout: float
) -> dict[int, tuple[int, int]]:
    """``partition -> (low, high)`` watermarks of the partitions that hold records."""
    try:
        metadata = consumer.list_topics(name, timeout=timeout)
    except KafkaException as e:
        raise ServiceError(
            "kafka",
            f"not reachable at {settings.bootstrap_servers} ({_reason(e)}); "
            "start it with `fillstream up` or set KAFKA_BOOTSTRAP_SERVERS",
        ) from e
    topic = metadata.topics.get(name)
    if topic is None or topic.error is not None:
        raise MissingTopicError(
            "kafka", f"topic {name} does not exist; create it with `fillstream topics`"
        )
    deadline = time.monotonic() + timeout
    ends = {p: _watermarks(consumer, TopicPartition(name, p), deadline) for p in topic.partitions}
    return {p: (low, high) for p, (low, high) in ends.items() if high > low}


def _watermarks(consumer: Consumer, partition: TopicPartition, deadline: float) -> tuple[int, int]:
    """Low and high offsets, retried while the partition has no leader yet (a new topic)."""
    while True:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=REACH_TIMEOUT)
            return int(low), int(high)
        except KafkaException as e:
            error = e.args[0] if e.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _NO_LEADER_YET
            )
            if not retriable or time.monotonic() > deadline:
                raise ServiceError(
                    "kafka",
                    f"cannot read the offsets of {partition.topic} [{partition.partition}] "
                    f"({_reason(e)})",
                ) from e
            time.sleep(0.1)


def _drop_finished(consumer: Consumer, name: str, remaining: dict[int, int]) -> None:
    """Forget partitions whose position reached the end (e.g. past transaction markers)."""
    positions = consumer.position([TopicPartition(name, p) for p in remaining])
    for tp in positions:
        if tp.offset >= 0 and tp.offset >= remaining.get(tp.partition, 0):
            remaining.pop(tp.partition, None)


def _check(message: Message, name: str) -> None:
    error = message.error()
    if error is not None and error.code() != KafkaError._PARTITION_EOF:
        raise ServiceError("kafka", f"cannot read {name}: {error.str()}")


def _reason(error: KafkaException) -> str:
    first = error.args[0] if error.args else error
    return first.str() if isinstance(first, KafkaError) else str(first)


def _event_id_header(message: Message) -> str | None:
    headers: list[tuple[str, bytes]] = message.headers() or []  # type: ignore[assignment]
    for name, value in headers:
        if name == "event_id" and value:
            return value.decode()
    return None
