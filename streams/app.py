"""The Faust app: a thin loop around the pure matching in ``streams.matching``.

For every execution: decode, look up the position's book, ``apply``, publish the closed trades and
wait for Kafka's ack, and only then store the new book. A crash between the two therefore replays
the execution against the old book and re-publishes the same (deterministic) trades, which the
projection ignores as duplicates; a crash after storing the book is recognised by the book's
recent-execution window. Either way every trade lands exactly once in the projection.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fillstream.errors import CodecError
from fillstream.settings import Settings
from schemas.codec import Codec, default_codec
from schemas.events import ExecutionReported, schema_name
from streams import metrics
from streams.contracts import spec_for
from streams.errors import UnknownInstrumentError
from streams.matching import (
    Book,
    Matching,
    apply,
    book_from_json,
    book_to_json,
    is_duplicate,
    position_key,
)

log = logging.getLogger("fillstream.streams")


def create_app(settings: Settings, codec: Codec | None = None) -> faust.App:
    codec = codec or default_codec()
    app = faust.App(
        settings.group("streams"),
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        datadir=str(settings.home / "streams"),
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=settings.worker_port,
        topic_replication_factor=1,
        topic_partitions=3,
        producer_acks=-1,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    executions = app.topic(settings.topic("raw.executions"), key_type=bytes, value_type=bytes)
    trades_topic = settings.topic("derived.trades")
    dead_letter_topic = settings.topic("dead-letter")
    # Faust picks table serializers from the types: bytes keys are raw, other values JSON,
    # on write and on recovery alike.
    positions = app.Table("positions", default=None, key_type=bytes, partitions=3)
    seen = app.Table("seen", default=None, key_type=bytes, partitions=3)
    source_topic = settings.topic("raw.executions")
    matching = Matching(settings.matching)

    async def dead_letter(message: Any, reason: str, code: str) -> None:
        metrics.DEAD_LETTERS.labels(code).inc()
        metrics.EVENTS.labels(message.topic, "dead_letter").inc()
        log.error(
            "dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason
        )
        await app.producer.send_and_wait(
            dead_letter_topic,
            message.key,
            message.value,
            partition=None,
            timestamp=None,
            headers=[
                ("reason", reason.encode()),
                ("code", code.encode()),
                ("origin", f"{message.topic}/{message.partition}/{message.offset}".encode()),
                ("stage", b"streams.match_executions"),
            ],
        )

    @app.agent(executions)
    async def match_executions(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                execution = codec.decode(message.value)
            except CodecError as e:
                await dead_letter(message, str(e), "undecodable")
                continue
            if not isinstance(execution, ExecutionReported):
                await dead_letter(
                    message,
                    f"expected ExecutionReported, got {schema_name(execution)}",
                    "wrong_schema",
                )
                continue
            try:
                spec = spec_for(execution.instrument)
            except UnknownInstrumentError as e:
                await dead_letter(message, str(e), "unknown_instrument")
                continue
            key = position_key(execution)
            seen_key = f"{key}|{execution.execution_id}".encode()
            stored = positions.get(key.encode())
            book = book_from_json(stored) if stored is not None else Book()
            if is_duplicate(book, execution) or seen.get(seen_key) is not None:
                seen[seen_key] = 1
                metrics.EVENTS.labels(source_topic, "duplicate").inc()
                continue
            book, trades = apply(book, execution, spec, matching)
            for trade in trades:
                await app.producer.send_and_wait(
                    trades_topic,
                    f"{trade.account}|{trade.instrument}".encode(),
                    codec.encode(trade),
                    partition=None,
                    timestamp=None,
                    headers=[
                        ("schema", schema_name(trade).encode()),
                        ("event_id", trade.envelope.event_id.encode()),
                    ],
                )
            positions[key.encode()] = book_to_json(book)
            seen[seen_key] = 1
            metrics.EVENTS.labels(source_topic, "applied").inc()
            metrics.TRADES.inc(len(trades))
            if trades:
                lag = datetime.now(UTC) - execution.envelope.ts_ingested
                metrics.LATENCY.observe(max(0.0, lag.total_seconds()))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type, so the full header goes in headers
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = bool(app.consumer.assignment()) and not app.rebalancing
        return web.json({"assigned": ready}, status=200 if ready else 503)

    return app
