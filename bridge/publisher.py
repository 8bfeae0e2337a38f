"""Getting accepted events durably stored: into Kafka, or into the disk spool when it is not there.

Direct path: produce (idempotent, acks=all) and wait for Kafka's acknowledgement, up to
``ack_timeout``. If Kafka does not acknowledge in time, or is known to be down, the batch goes to
the spool (fsync'd) instead, and every later batch follows it there until the drainer has
delivered the whole spool in order; so events of one key keep their order. A batch that timed
out may still reach Kafka besides its spooled copy: duplicates can reach the log, never two fills
downstream (the worker drops execution ids it has applied).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from bridge import metrics
from bridge.errors import PublishError
from bridge.spool import Spool, SpoolRecord
from core.errors import ServiceError
from core.kafka import ensure_topics, producer_config
from core.settings import Settings
from schemas.catalog import (
    CONTROL_GATE,
    DERIVED_DECISIONS,
    DERIVED_TRADES,
    RAW_ASSIGNMENTS,
    RAW_EXECUTIONS,
    RAW_HEARTBEATS,
    RAW_INSTRUMENTS,
    RAW_MARKET,
    RAW_NT_TRADES,
    RAW_ORDERS,
    RAW_POSITIONS,
    RAW_SIGNALS,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import (
    BarClosed,
    BridgeHeartbeat,
    Event,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    GateAction,
    GateChanged,
    InstrumentDefined,
    OrderUpdated,
    PositionUpdated,
    SignalEmitted,
    TradeClosed,
    TradeDecided,
    TradeReported,
    VariantAssigned,
    schema_name,
)

log = logging.getLogger("fillstream.bridge")


class Stored(StrEnum):
    """Where an accepted batch is durable."""

    KAFKA = "kafka"
    SPOOL = "spool"


def route(event: Event) -> tuple[str, str]:
    """The catalog topic and the message key of an event (see ``schemas/topics.toml``)."""
    match event:
        case (
            ExecutionReported()
            | ExecutionCorrected()
            | ExecutionBusted()
            | OrderUpdated()
            | PositionUpdated()
            | TradeClosed()
            | TradeReported()
        ):
            return _TOPICS[type(event)], f"{event.account}|{event.instrument}"
        case SignalEmitted():
            return RAW_SIGNALS, f"{event.account or ''}|{event.instrument}"
        case BarClosed():
            return RAW_MARKET, event.instrument
        case InstrumentDefined():
            return RAW_INSTRUMENTS, event.root
        case BridgeHeartbeat():
            return RAW_HEARTBEATS, event.connection
        case VariantAssigned():
            return RAW_ASSIGNMENTS, event.experiment_id
        case TradeDecided():
            return DERIVED_DECISIONS, f"{event.account}|{event.instrument}"
        case GateChanged() if event.action is GateAction.CONFIGURED:
            return CONTROL_GATE, "rules"
        case GateChanged():
            return (
                CONTROL_GATE,
                f"{event.account or ''}|{event.strategy or ''}|{event.instrument or ''}",
            )
    raise TypeError(f"no route for {type(event).__name__}")


_TOPICS: dict[type, str] = {
    ExecutionReported: RAW_EXECUTIONS,
    ExecutionCorrected: RAW_EXECUTIONS,
    ExecutionBusted: RAW_EXECUTIONS,
    OrderUpdated: RAW_ORDERS,
    PositionUpdated: RAW_POSITIONS,
    TradeClosed: DERIVED_TRADES,
    TradeReported: RAW_NT_TRADES,
}


def kafka_record(settings: Settings, codec: Codec, event: Event) -> SpoolRecord:
    """An event as the Kafka record every publisher writes: routed, keyed, encoded, with the
    ``schema`` and ``event_id`` headers (the import's duplicate check reads the latter)."""
    topic, key = route(event)
    return SpoolRecord(
        topic=settings.topic(topic),
        key=key.encode(),
        value=codec.encode(event),
        headers=record_headers(schema_name(event), event.envelope.event_id),
    )


def to_records(settings: Settings, codec: Codec, events: Sequence[Event]) -> list[SpoolRecord]:
    """Encoded, routed Kafka records for events."""
    return [kafka_record(settings, codec, event) for event in events]


class Publisher:
    """Stores batches durably (Kafka or spool) and drains the spool to Kafka in order."""

    def __init__(
        self, settings: Settings, codec: Codec, spool: Spool, *, ack_timeout: float = 5.0
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._spool = spool
        self._ack_timeout = ack_timeout
        self._kafka_down = False
        self._topics_ready = False
        self._producer = Producer({**producer_config(settings), "error_cb": self._on_error})
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, name="kafka-delivery", daemon=True),
            threading.Thread(target=self._drain, name="spool-drainer", daemon=True),
        ]
        metrics.SPOOL_RECORDS.set_function(lambda: spool.depth)
        metrics.SPOOL_BYTES.set_function(lambda: spool.size_bytes)
        metrics.KAFKA_UP.set_function(lambda: 0 if self._kafka_down else 1)
        for thread in self._threads:
            thread.start()
        if not spool.is_empty():
            log.warning("spool holds %d records from before; delivering them first", spool.depth)

    def prepare(self) -> bool:
        """Check the catalog's topics once now, so the first batches can go straight to Kafka.

        False when Kafka is not reachable: batches are spooled until the drainer gets through.
        """
        try:
            ensure_topics(self._settings, timeout=3.0)
        except ServiceError as e:
            log.warning("Kafka not reachable at start (%s); accepting events into the spool", e)
            self._kafka_down = True
            return False
        self._topics_ready = True
        return True

    async def publish(self, events: Sequence[Event]) -> Stored:
        """Store every event durably; returns where. Raises only if even the spool fails."""
        records = to_records(self._settings, self._codec, events)
        if self._topics_ready and not self._kafka_down and self._spool.is_empty():
            try:
                await asyncio.wait_for(self._send(records), timeout=self._ack_timeout)
                return Stored.KAFKA
            except (TimeoutError, PublishError) as e:
                log.warning("Kafka did not acknowledge %d records (%s); spooling", len(records), e)
                self._mark_down()
        await asyncio.to_thread(self._spool.append, records)
        metrics.SPOOLED.inc(len(records))
        self._wakeup.set()
        return Stored.SPOOL

    def kafka_reachable(self, timeout: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wakeup.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._producer.flush(timeout)

    # -- direct path ---------------------------------------------------------------------------

    async def _send(self, records: Sequence[SpoolRecord]) -> None:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for record in records:
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            produce(self._producer, record, async_resolver(loop, future))
        results = await asyncio.gather(*futures, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise PublishError(
                f"{len(failures)} of {len(records)} records not acknowledged: {failures[0]}"
            )

    def _mark_down(self) -> None:
        self._kafka_down = True
        # what still waits in the local queue would only arrive late, beside its spooled copy
        self._producer.purge(in_queue=True, in_flight=False, blocking=False)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            if not self._kafka_down:
                log.warning("Kafka unreachable (%s): new batches go to the spool", error)
            self._kafka_down = True

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    # -- spool path ----------------------------------------------------------------------------

    def _drain(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            if not self._topics_ready:
                # nothing is delivered before the catalog's topics exist with their partitions
                try:
                    ensure_topics(self._settings)
                    self._topics_ready = True
                    log.info(
                        "Kafka reachable at %s; topics ready", self._settings.bootstrap_servers
                    )
                except ServiceError as e:
                    log.warning("Kafka not ready (%s); spooling, retrying in %.1fs", e, backoff)
                    self._kafka_down = True
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if self._spool.is_empty():
                    self._kafka_down = False
            frame = self._spool.peek()
            if frame is None:
                self._wakeup.wait(0.5)
                self._wakeup.clear()
                continue
            if self._deliver(frame.records):
                self._spool.commit(frame)
                metrics.DRAINED.inc(len(frame.records))
                backoff = 0.5
                if self._spool.is_empty():
                    self._kafka_down = False
                    log.info("spool drained: back to publishing directly")
            else:
                self._kafka_down = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _deliver(self, records: Sequence[SpoolRecord]) -> bool:
        """Send a frame's records in order; True once Kafka acknowledged every one."""
        done = threading.Condition()
        outcome = {"acked": 0, "failed": 0}

        def on_delivery(error: KafkaError | None, _message: Any) -> None:
            with done:
                outcome["failed" if error is not None else "acked"] += 1
                done.notify_all()

        for record in records:
            produce(self._producer, record, on_delivery)
        with done:
            finished = done.wait_for(
                lambda: outcome["acked"] + outcome["failed"] == len(records),
                timeout=self._ack_timeout,
            )
        if finished and outcome["failed"] == 0:
            return True
        self._producer.purge(in_queue=True, in_flight=False, blocking=False)
        return False


def produce(producer: Producer, record: SpoolRecord, on_delivery: Any) -> None:
    """Hand ``record`` to ``producer``; a full local queue is reported to ``on_delivery`` as a
    failed delivery, never raised."""
    try:
        producer.produce(
            record.topic,
            key=record.key,
            value=record.value,
            headers=list(record.headers),
            on_delivery=on_delivery,
        )
    except (BufferError, KafkaException) as e:
        on_delivery(KafkaError(KafkaError._QUEUE_FULL, str(e)), None)


def async_resolver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Any:
    """A delivery callback that settles ``future`` on ``loop`` (``PublishError`` on failure)."""

    def on_delivery(error: KafkaError | None, _message: Any) -> None:
        if error is None:
            loop.call_soon_threadsafe(_set_result, future)
        else:
            loop.call_soon_threadsafe(_set_exception, future, PublishError(str(error)))

    return on_delivery


def _set_result(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _set_exception(future: asyncio.Future[None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
