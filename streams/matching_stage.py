"""The matching stage: executions → round-trip trades (``streams.matching``) per position.

A ``streams.deriver`` stage reading ``raw.executions``. It keeps each position's ``Book`` and
the ids of the executions it applied, and writes both to the compacted
``streams-books-changelog`` (``book|<position key>`` → the book as JSON, the last of each batch;
``seen|<position key>|<execution id>`` → ``1``) in the same transaction as the trades, so a
restarted worker reads its books back instead of replaying every execution, and an execution
is applied once however often it is delivered.

Rejected records go to the dead-letter topic with a code: ``undecodable``, ``wrong_schema``,
``unknown_instrument`` (no contract specification) or ``invalid`` (not matchable: no side, no
quantity).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from fillstream.errors import InvalidEventError
from fillstream.settings import Settings
from schemas.catalog import record_headers
from schemas.codec import Codec
from schemas.events import ExecutionReported, schema_name
from streams import metrics
from streams.contracts import spec_for
from streams.deriver import Batch, Output, Record, dead_letter, decoded
from streams.errors import UnknownInstrumentError
from streams.matching import Book, Matching, apply, book_from_json, book_to_json, position_key

BOOKS_TOPIC = "streams-books-changelog"
TRADES_TOPIC = "derived.trades"
_STAGE = "streams.matching"


class MatchExecutions:
    name = "matching"
    source = "raw.executions"
    changelog: str | None = BOOKS_TOPIC

    def __init__(self, codec: Codec, matching: Matching = Matching.FIFO) -> None:
        self.codec = codec
        self.matching = matching
        self.books: dict[int, dict[str, Book]] = {}
        """Source partition → position key → book."""
        self.seen: dict[int, set[str]] = {}
        """Source partition → ``<position key>|<execution id>`` applied."""

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> MatchExecutions:
        return cls(codec, Matching(settings.matching))

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        books: dict[str, Book] = {}
        seen: set[str] = set()
        for record in records:
            kind, _, key = (record.key or b"").decode().partition("|")
            if kind == "book" and record.value:
                books[key] = book_from_json(json.loads(record.value))
            elif kind == "seen" and record.value:
                seen.add(key)
        self.books[partition], self.seen[partition] = books, seen

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.books.pop(partition, None)
            self.seen.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        changed: dict[str, tuple[int, Book]] = {}
        for record in records:
            execution = decoded(self.codec, record, ExecutionReported, batch, _STAGE)
            if execution is None:
                continue
            try:
                spec = spec_for(execution.instrument)
            except UnknownInstrumentError as e:
                batch.outputs.append(dead_letter(record, str(e), "unknown_instrument", _STAGE))
                continue
            key = position_key(execution)
            books = self.books.setdefault(record.partition, {})
            seen = self.seen.setdefault(record.partition, set())
            seen_key = f"{key}|{execution.execution_id}"
            book = books.get(key, Book())
            if seen_key in seen or execution.execution_id in book.recent:
                metrics.EVENTS.labels(record.topic, "duplicate").inc()
                continue
            try:
                book, trades = apply(book, execution, spec, self.matching)
            except InvalidEventError as e:
                batch.outputs.append(dead_letter(record, str(e), "invalid", _STAGE))
                continue
            books[key] = book
            seen.add(seen_key)
            changed[key] = (record.partition, book)
            for trade in trades:
                batch.outputs.append(
                    Output(
                        TRADES_TOPIC,
                        f"{trade.account}|{trade.instrument}".encode(),
                        self.codec.encode(trade),
                        record_headers(schema_name(trade), trade.envelope.event_id),
                    )
                )
            batch.outputs.append(
                Output(BOOKS_TOPIC, f"seen|{seen_key}".encode(), b"1", partition=record.partition)
            )
            metrics.EVENTS.labels(record.topic, "applied").inc()
            if trades:
                metrics.TRADES.inc(len(trades))
                lag = datetime.now(UTC) - execution.envelope.ts_ingested
                metrics.LATENCY.observe(max(0.0, lag.total_seconds()))
        for key, (partition, book) in changed.items():
            batch.outputs.append(
                Output(
                    BOOKS_TOPIC,
                    f"book|{key}".encode(),
                    json.dumps(book_to_json(book)).encode(),
                    partition=partition,
                )
            )
