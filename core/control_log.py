"""The phases on the control topic (``control.phases``): which are active, the settings they give
the stream worker, and what each rolled-back phase voided.

A phase starts and is rolled back while the stream worker is stopped, so the offsets each event
records are exactly where the stages stood. Everything the stages wrote between a phase's start
and its rollback (``ends`` of the one to ``ends`` of the other) is void: the stages are rewound
to where they stood at its start and derive that stretch again under the restored settings, and
every reader of those topics (the stages after them, the projectors, rebuilds) skips the void
ranges, so what they hold equals what a system that never ran the phase would hold.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from core.errors import ConfigError, ControlError, PhaseError
from core.kafka import QUIET_LOGGER, producer_config, watermarks
from core.settings import PHASE_SETTINGS, Settings
from schemas.catalog import (
    CONTROL_PHASES,
    DERIVED_PERFORMANCE,
    DERIVED_POSITIONS,
    DERIVED_REGIMES,
    DERIVED_TRADES,
    STREAMS_PERFORMANCE_SCOPES,
)
from schemas.codec import Codec, default_codec
from schemas.events import (
    Envelope,
    Event,
    EventId,
    PhaseAction,
    PhaseChanged,
    Source,
    schema_name,
)

TOPIC = CONTROL_PHASES

STAGE_GROUPS = (
    "streams.matching",
    "streams.scopes",
    "streams.performance",
    "streams.regimes",
)
"""The stream stages' consumer groups, in the order records flow through them."""

STAGE_OUTPUTS = (
    DERIVED_TRADES,
    DERIVED_POSITIONS,
    STREAMS_PERFORMANCE_SCOPES,
    DERIVED_PERFORMANCE,
    DERIVED_REGIMES,
)
"""The topics the stages derive into (their changelogs are rebuilt by a rewind instead)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Phase:
    started: PhaseChanged
    rolled_back: PhaseChanged | None = None

    @property
    def name(self) -> str:
        return self.started.phase

    @property
    def active(self) -> bool:
        return self.rolled_back is None


@dataclass(frozen=True, slots=True)
class VoidRanges:
    """Offset ranges of full topic names that readers skip, by (topic, partition)."""

    ranges: Mapping[tuple[str, int], tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def contains(self, topic: str, partition: int, offset: int) -> bool:
        ranges = self.ranges.get((topic, partition), ())
        return any(start <= offset < end for start, end in ranges)

    def of(self, topics: Iterable[str]) -> VoidRanges:
        """Only the ranges of ``topics`` (full names)."""
        wanted = set(topics)
        return VoidRanges({tp: r for tp, r in self.ranges.items() if tp[0] in wanted})


@dataclass(frozen=True, slots=True)
class PhaseLog:
    """The control topic's phase events, in log order."""

    events: tuple[PhaseChanged, ...] = ()

    def phases(self) -> list[Phase]:
        """Every phase started, oldest first, with its rollback if it had one."""
        phases: list[Phase] = []
        for event in self.events:
            if event.action is PhaseAction.STARTED:
                phases.append(Phase(event))
            elif event.action is PhaseAction.ROLLED_BACK:
                for n in range(len(phases) - 1, -1, -1):
                    if phases[n].name == event.phase and phases[n].active:
                        phases[n] = Phase(phases[n].started, event)
                        break
        return phases

    def active(self) -> list[Phase]:
        return [p for p in self.phases() if p.active]

    def find_active(self, name: str) -> Phase:
        for phase in self.active():
            if phase.name == name:
                return phase
        known = ", ".join(p.name for p in self.active()) or "none"
        raise PhaseError(f"no active phase named {name!r} (active: {known})")

    def overrides(self) -> dict[str, str]:
        """The settings the active phases give, later phases over earlier ones."""
        merged: dict[str, str] = {}
        for phase in self.active():
            merged.update(phase.started.settings)
        return merged

    def void(self, settings: Settings) -> VoidRanges:
        """What the rolled-back phases voided, by full topic name."""
        ranges: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for phase in self.phases():
            if phase.rolled_back is None:
                continue
            for key, start in phase.started.ends.items():
                end = phase.rolled_back.ends.get(key, start)
                topic, _, partition = key.rpartition("|")
                if end > start:
                    ranges.setdefault((settings.topic(topic), int(partition)), []).append(
                        (start, end)
                    )
        return VoidRanges({tp: tuple(sorted(r)) for tp, r in ranges.items()})


def read_log(settings: Settings, codec: Codec | None = None) -> PhaseLog:
    """Every phase event on the control topic (an empty log when it has none)."""
    return PhaseLog(tuple(read_events(settings, TOPIC, PhaseChanged, codec)))


E = TypeVar("E")


def read_events(
    settings: Settings, name: str, kind: type[E], codec: Codec | None = None
) -> list[E]:
    """Every committed ``kind`` event of catalog topic ``name``, partition by partition (the
    control topics have one); none when the topic does not exist yet."""
    codec = codec or default_codec()
    topic = settings.topic(name)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("control-reader"),
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            # a command's one-line error says Kafka is unreachable; not librdkafka's retries
            "logger": QUIET_LOGGER,
        }
    )
    events: list[E] = []
    try:
        metadata = consumer.list_topics(topic, timeout=_TIMEOUT).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        partitions = sorted(metadata.partitions)
        pending = set()
        for p in partitions:
            low, high = watermarks(consumer, TopicPartition(topic, p))
            if high > low:
                pending.add(p)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        while pending:
            message = consumer.poll(_TIMEOUT)
            if message is None:
                raise ControlError(f"{topic} did not answer in {_TIMEOUT:.0f} s")
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise KafkaException(error)
            event = codec.decode(message.value() or b"")
            if isinstance(event, kind):
                events.append(event)
    except KafkaException as e:
        raise ControlError(f"reading {topic} failed: {e}") from e
    finally:
        consumer.close()
    return events


def effective_settings(settings: Settings, log: PhaseLog | None = None) -> Settings:
    """``settings`` with the active phases' settings over them."""
    overrides = (log if log is not None else read_log(settings)).overrides()
    if not overrides:
        return settings
    return Settings.from_env({**settings.to_env(), **overrides})


def check_settings(config: Mapping[str, str]) -> None:
    """Refuse settings a phase may not change, naming them."""
    for name in config:
        if name not in PHASE_SETTINGS:
            raise ConfigError(name, f"is not a phase setting (one of {', '.join(PHASE_SETTINGS)})")


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise PhaseError(
            f"{name!r} is not a phase name: letters, digits, '.', '_' and '-', at most 64"
        )


def phase_event(
    name: str,
    action: PhaseAction,
    *,
    settings: Mapping[str, str] | None = None,
    previous: Mapping[str, str] | None = None,
    groups: Mapping[str, int] | None = None,
    ends: Mapping[str, int] | None = None,
) -> PhaseChanged:
    now = datetime.now(UTC)
    return PhaseChanged(
        envelope=Envelope(event_id=EventId(f"phase-{uuid.uuid4().hex}"), ts_event=now,
                          ts_ingested=now, source=Source.LIVE, producer="fillstream phase"),
        phase=name,
        action=action,
        settings=dict(settings or {}),
        previous=dict(previous or {}),
        groups=dict(groups or {}),
        ends=dict(ends or {}),
    )  # fmt: skip


def publish(settings: Settings, event: PhaseChanged, codec: Codec | None = None) -> None:
    publish_control(settings, TOPIC, event.phase, event, codec)


def publish_control(
    settings: Settings, name: str, key: str, event: Event, codec: Codec | None = None
) -> None:
    """``event`` on control topic ``name``, acknowledged by every in-sync replica."""
    codec = codec or default_codec()
    producer = Producer(producer_config(settings))
    producer.produce(settings.topic(name), key=key.encode(), value=codec.encode(event))
    if producer.flush(30) != 0:
        raise ControlError(f"{settings.topic(name)} did not take the {schema_name(event)} event")
