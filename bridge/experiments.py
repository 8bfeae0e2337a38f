"""The experiments' control topic (``control.experiments``): reading the experiments as their
events leave them, making a change, checked against them first (``domain.experiments.model``), and
following them (``ExperimentFollower``: a thread folding each change in as it is logged, so the
bridge answers assignments from memory and the guard sees a change within a second)."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from core.control_log import publish_control, read_events
from core.errors import CodecError
from core.settings import Settings
from domain.experiments.model import Experiments, ExperimentSpec, apply, check, fold
from schemas.catalog import CONTROL_EXPERIMENTS
from schemas.codec import Codec
from schemas.events import Envelope, EventId, ExperimentAction, ExperimentChanged, Source

TOPIC = CONTROL_EXPERIMENTS

log = logging.getLogger("fillstream.streams")


def read_experiments(settings: Settings) -> tuple[Experiments, list[ExperimentChanged]]:
    """The experiments now, and every change in log order."""
    events = read_events(settings, TOPIC, ExperimentChanged)
    return fold(events), events


def change(
    settings: Settings,
    experiment_id: str,
    action: ExperimentAction,
    *,
    actor: str,
    reason: str = "",
    spec: ExperimentSpec | None = None,
) -> ExperimentChanged:
    """Publish a change after checking it against the experiments as the log holds them
    (``ExperimentError`` with the reason when it cannot be made); the event published."""
    experiments, _ = read_experiments(settings)
    event = change_event(experiment_id, action, actor=actor, reason=reason, spec=spec)
    check(experiments, event)
    after = apply(experiments, event).by_id.get(experiment_id)
    if after is not None:  # the step it is at once changed
        event = replace(event, step=after.step)
    publish_control(settings, TOPIC, experiment_id, event)
    return event


def change_event(
    experiment_id: str,
    action: ExperimentAction,
    *,
    actor: str,
    reason: str = "",
    spec: ExperimentSpec | None = None,
    step: int = 0,
    at: datetime | None = None,
) -> ExperimentChanged:
    """The event of a change (``spec`` for ``configured``), timed now unless ``at``."""
    now = at or datetime.now(UTC)
    envelope = Envelope(
        event_id=EventId(f"experiment-{uuid.uuid4().hex}"),
        ts_event=now,
        ts_ingested=now,
        source=Source.LIVE,
        producer="fillstream experiments",
    )
    if spec is None:
        return ExperimentChanged(
            envelope=envelope,
            experiment_id=experiment_id,
            action=action,
            actor=actor,
            reason=reason,
            step=step,
        )
    return ExperimentChanged(
        envelope=envelope,
        experiment_id=experiment_id,
        action=action,
        actor=actor,
        reason=reason,
        strategy=spec.strategy,
        control_variant=spec.control_variant,
        treatment_variant=spec.treatment_variant,
        ramp=spec.ramp,
        min_trades_per_step=spec.min_trades_per_step,
        min_days_per_step=spec.min_days_per_step,
        max_drawdown=spec.max_drawdown,
        daily_loss_limit=spec.daily_loss_limit,
        auto_promote=spec.auto_promote,
        step=step,
        phase=spec.phase,
    )


class ExperimentFollower:
    """Follows ``control.experiments`` from its first record; ``loaded`` is set once the topic
    was read to its end. ``group`` names the (never committed) consumer group."""

    def __init__(self, settings: Settings, codec: Codec, group: str) -> None:
        self._settings = settings
        self._group = group
        self._codec = codec
        self._experiments = Experiments()
        self.loaded = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="experiments", daemon=True)
        self._consumer: Consumer | None = None

    @property
    def experiments(self) -> Experiments:
        return self._experiments  # replaced whole, never changed in place: safe to read

    def start(self) -> ExperimentFollower:
        """Make the consumer here, on the calling thread, and follow on a thread of its own."""
        self._consumer = Consumer(
            {
                "bootstrap.servers": self._settings.bootstrap_servers,
                "group.id": self._settings.group(self._group),
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        topic = self._settings.topic(TOPIC)
        consumer = self._consumer
        assert consumer is not None
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        reported = False
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        self.loaded.set()
                    elif not reported:  # the topic not there yet, Kafka down: keep trying
                        log.warning("reading %s: %s; retrying", topic, error)
                        reported = True
                    continue
                try:
                    event = self._codec.decode(message.value() or b"")
                except CodecError as e:
                    log.error("%s offset %d does not decode (%s); skipped", topic,
                              message.offset(), e)  # fmt: skip
                    continue
                if isinstance(event, ExperimentChanged):
                    self._experiments = apply(self._experiments, event)
        finally:
            consumer.close()
