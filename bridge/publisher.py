"""Publishing events to Kafka and waiting until the broker has them (acks=all, idempotent)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from fillstream.errors import FillstreamError
from fillstream.settings import Settings
from schemas.codec import Codec
from schemas.events import (
    BarClosed,
    BridgeHeartbeat,
    Event,
    ExecutionReported,
    OrderUpdated,
    PositionUpdated,
    SignalEmitted,
    TradeClosed,
    TradeReported,
    schema_name,
)


class PublishError(FillstreamError):
    """Kafka did not acknowledge an event."""


def route(event: Event) -> tuple[str, str]:
    """The catalog topic and the message key of an event (see ``schemas/topics.toml``)."""
    match event:
        case (
            ExecutionReported()
            | OrderUpdated()
            | PositionUpdated()
            | TradeClosed()
            | TradeReported()
        ):
            return _TOPICS[type(event)], f"{event.account}|{event.instrument}"
        case SignalEmitted():
            return "raw.signals", f"{event.account or ''}|{event.instrument}"
        case BarClosed():
            return "raw.market", event.instrument
        case BridgeHeartbeat():
            return "raw.heartbeats", event.connection
    raise TypeError(f"no route for {type(event).__name__}")


_TOPICS: dict[type, str] = {
    ExecutionReported: "raw.executions",
    OrderUpdated: "raw.orders",
    PositionUpdated: "raw.positions",
    TradeClosed: "derived.trades",
    TradeReported: "raw.nt-trades",
}


def producer_config(settings: Settings) -> dict[str, object]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # no compression: aiokafka (under Faust) cannot read lz4 without extra libraries
        "compression.type": "none",
        # the Java client's partitioner, so keys land where Faust (aiokafka) would put them
        "partitioner": "murmur2_random",
        "message.timeout.ms": 30000,
    }


class Publisher:
    """Sends encoded events and resolves an asyncio future per event on the broker's ack."""

    def __init__(self, settings: Settings, codec: Codec) -> None:
        self._settings = settings
        self._codec = codec
        self._producer = Producer(producer_config(settings))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    async def publish(self, events: Sequence[Event]) -> None:
        """Send every event; return once Kafka acknowledged all of them, else raise PublishError."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for event in events:
            topic, key = route(event)
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            try:
                self._producer.produce(
                    self._settings.topic(topic),
                    key=key.encode(),
                    value=self._codec.encode(event),
                    headers={"schema": schema_name(event).encode()},
                    on_delivery=_resolver(loop, future),
                )
            except BufferError as e:
                future.set_exception(PublishError(f"producer queue is full: {e}"))
            except KafkaException as e:
                future.set_exception(PublishError(f"cannot produce to {topic}: {e}"))
        results = await asyncio.gather(*futures, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise PublishError(
                f"{len(failures)} of {len(events)} events not acknowledged: {failures[0]}"
            )

    def reachable(self, timeout: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._stop.set()
        self._poller.join(timeout=2)


def _resolver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]):  # type: ignore[no-untyped-def]
    def on_delivery(error: KafkaError | None, message: Message) -> None:
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
