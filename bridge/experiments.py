"""The bridge's view of the experiments: a thread following ``control.experiments`` from its
first record, folding each change in (``streams.experiments.apply``), so an assignment is
answered from memory within microseconds and a pause, promotion, rollback or the kill switch
takes effect as soon as the bridge reads it (normally well under a second)."""

from __future__ import annotations

import logging
import threading

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from fillstream.errors import CodecError
from fillstream.settings import Settings
from schemas.codec import Codec
from schemas.events import ExperimentChanged
from streams.experiment_log import TOPIC
from streams.experiments import Experiments, apply

log = logging.getLogger("fillstream.bridge")


class ExperimentFollower:
    """See the module docstring. ``loaded`` is set once the topic was read to its end."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self._settings = settings
        self._codec = codec
        self._experiments = Experiments()
        self.loaded = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="experiments", daemon=True)

    @property
    def experiments(self) -> Experiments:
        return self._experiments  # replaced whole, never changed in place: safe to read

    def start(self) -> ExperimentFollower:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _follow(self) -> None:
        topic = self._settings.topic(TOPIC)
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.bootstrap_servers,
                "group.id": self._settings.group("bridge-experiments"),
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
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
                        log.warning("reading %s: %s; assigning control meanwhile", topic, error)
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
