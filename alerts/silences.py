"""Silences: operators' ``AlertSilenced`` events on ``control.silences``, and which alerts they
hold back. ``fillstream alerts silence`` writes them; the notifier follows the topic."""

from __future__ import annotations

import getpass
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from core.errors import CodecError, ServiceError
from core.kafka import producer_config
from core.settings import Settings
from schemas.catalog import CONTROL_SILENCES, record_headers
from schemas.codec import Codec
from schemas.events import AlertChanged, AlertSilenced, Envelope, EventId, Source, schema_name

log = logging.getLogger("fillstream.alerts")

TOPIC = CONTROL_SILENCES
PRODUCER = "fillstream-alerts/0.1.0"


def matches(silence: AlertSilenced, alert: AlertChanged, at: datetime) -> bool:
    """Whether ``silence`` holds ``alert`` back at ``at``: in force, and every matcher equal to
    the alert's label of that name (``rule`` is the rule's name)."""
    if not silence.starts_at <= at < silence.ends_at:
        return False
    labels = {**alert.labels, "rule": alert.rule, "key": alert.key}
    return all(labels.get(name) == value for name, value in silence.matchers.items())


def silence(
    settings: Settings,
    codec: Codec,
    matchers: Mapping[str, str],
    *,
    duration: timedelta,
    comment: str = "",
    by: str | None = None,
    silence_id: str | None = None,
    now: datetime | None = None,
) -> AlertSilenced:
    """Write a silence (a new one, or ``silence_id`` again to change or end it)."""
    at = now or datetime.now(UTC)
    event = AlertSilenced(
        envelope=Envelope(
            event_id=EventId(str(uuid.uuid4())),
            ts_event=at,
            ts_ingested=at,
            source=Source.UNKNOWN,
            producer=PRODUCER,
        ),
        silence_id=silence_id or uuid.uuid4().hex[:12],
        matchers=dict(matchers),
        starts_at=at,
        ends_at=at + duration,
        created_by=by or getpass.getuser(),
        comment=comment,
    )
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topic(TOPIC),
        key=event.silence_id.encode(),
        value=codec.encode(event),
        headers=list(record_headers(schema_name(event), event.envelope.event_id)),
    )
    if producer.flush(10) != 0:
        raise ServiceError("kafka", f"{settings.bootstrap_servers} did not acknowledge the silence")
    return event


def in_force(settings: Settings, codec: Codec, timeout: float) -> list[AlertSilenced] | None:
    """The silences in force now, read from ``control.silences`` to its end; None when it
    could not be read within ``timeout`` seconds."""
    silences = Silences(settings, codec)
    stop = threading.Event()
    reader = threading.Thread(target=silences.follow, args=(stop,), daemon=True)
    reader.start()
    loaded = silences.loaded.wait(timeout=timeout)
    stop.set()
    reader.join(timeout=5)
    if not loaded:
        return None
    now = datetime.now(UTC)
    return [s for s in silences.all() if s.ends_at > now]


class Silences:
    """The silences in ``control.silences``, kept current by a thread that follows the topic."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self.settings = settings
        self.codec = codec
        self._by_id: dict[str, AlertSilenced] = {}
        self._lock = threading.Lock()
        self.loaded = threading.Event()
        """Set once the topic has been read to its end at least once."""

    def holding(self, alert: AlertChanged, at: datetime) -> AlertSilenced | None:
        with self._lock:
            silences = list(self._by_id.values())
        return next((s for s in silences if matches(s, alert, at)), None)

    def all(self) -> list[AlertSilenced]:
        with self._lock:
            return sorted(self._by_id.values(), key=lambda s: s.starts_at)

    def follow(self, stop: threading.Event) -> None:
        """Read the topic from its start, then keep reading, until ``stop``."""
        topic = self.settings.topic(TOPIC)
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.settings.group("alerts.silences"),
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions = sorted(metadata.partitions)
            consumer.assign([TopicPartition(topic, p, -2) for p in partitions])  # from the start
            ended: set[int] = set()
            while not stop.is_set():
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        ended.add(message.partition() or 0)
                        if ended >= set(partitions):
                            self.loaded.set()
                    else:
                        log.warning("reading %s: %s", topic, error)
                    continue
                self._apply(message.value())
        finally:
            consumer.close()

    def _apply(self, payload: bytes | None) -> None:
        if not payload:
            return
        try:
            event = self.codec.decode(payload)
        except CodecError as e:
            log.warning("a silence that does not decode was skipped: %s", e)
            return
        if isinstance(event, AlertSilenced):
            with self._lock:
                self._by_id[event.silence_id] = event
