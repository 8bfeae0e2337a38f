"""A parsed export as the import reports and publishes it: its valid rows column by column, each
already encoded as its Kafka record. Pure.

Columns of plain strings and bytes are what a worker process can hand back cheaply (events
would cost more to unpickle than to parse), and what the duplicate check, the counts and the
producer read. A few whole events are kept as the report's sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bridge.imports.formats import DateOrder, MarkEvidence
from bridge.imports.grid import ImportResult, RejectedRow, rejected_lines
from bridge.publisher import kafka_record
from bridge.spool import SpoolRecord
from core.settings import Settings
from schemas.catalog import record_headers
from schemas.codec import Codec
from schemas.events import ExecutionReported, TradeReported, schema_name

ImportedEvent = ExecutionReported | TradeReported

SAMPLE = 5
"""Events kept whole, for the report's first rows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """The rows of one export (or one part of it), the valid ones encoded."""

    rows: int
    """Data rows read: the valid ones plus the rejected ones."""
    rejected: tuple[RejectedRow, ...]
    date_order: DateOrder
    decimal_mark: str
    mark_evidence: MarkEvidence = MarkEvidence()
    lines: list[int] = field(default_factory=list)
    """The line of each valid row; the lists below are parallel to it."""
    event_ids: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    """The Avro full name of each record's event."""
    sample: tuple[ImportedEvent, ...] = ()
    """The first valid rows' events (at most ``SAMPLE``)."""

    @property
    def valid(self) -> int:
        return len(self.lines)

    @property
    def rejected_lines(self) -> tuple[int, ...]:
        return rejected_lines(self.rejected)

    def counts(self) -> Counter[tuple[str, str]]:
        """Valid rows by ``(account, instrument)``."""
        return Counter(zip(self.accounts, self.instruments, strict=True))

    def records(self) -> Iterator[tuple[str, SpoolRecord]]:
        """``(event_id, record)`` of every valid row, in order."""
        columns = (self.event_ids, self.topics, self.keys, self.values, self.schemas)
        for event_id, topic, key, value, schema in zip(*columns, strict=True):
            headers = record_headers(schema, event_id)
            yield event_id, SpoolRecord(topic=topic, key=key, value=value, headers=headers)


def encoded(
    result: ImportResult[ExecutionReported] | ImportResult[TradeReported],
    settings: Settings,
    codec: Codec,
) -> Parsed:
    """A parsed export's valid rows as the records every publisher writes (``kafka_record``)."""
    records = [kafka_record(settings, codec, event) for event in result.events]
    return Parsed(
        rows=result.rows,
        rejected=result.rejected,
        date_order=result.date_order,
        decimal_mark=result.decimal_mark,
        mark_evidence=result.mark_evidence,
        lines=list(result.lines),
        event_ids=[e.envelope.event_id for e in result.events],
        accounts=[e.account for e in result.events],
        instruments=[e.instrument for e in result.events],
        topics=[r.topic for r in records],
        keys=[r.key for r in records],
        values=[r.value for r in records],
        schemas=[schema_name(e) for e in result.events],
        sample=tuple(result.events[:SAMPLE]),
    )


def joined(parts: Sequence[Parsed]) -> Parsed:
    """The parts of one export, read apart, as one (their date order and mark agree)."""
    first = parts[0]
    return Parsed(
        rows=sum(p.rows for p in parts),
        rejected=tuple(r for p in parts for r in p.rejected),
        date_order=first.date_order,
        decimal_mark=first.decimal_mark,
        mark_evidence=sum((p.mark_evidence for p in parts), MarkEvidence()),
        lines=[line for p in parts for line in p.lines],
        event_ids=[i for p in parts for i in p.event_ids],
        accounts=[a for p in parts for a in p.accounts],
        instruments=[i for p in parts for i in p.instruments],
        topics=[t for p in parts for t in p.topics],
        keys=[k for p in parts for k in p.keys],
        values=[v for p in parts for v in p.values],
        schemas=[s for p in parts for s in p.schemas],
        sample=tuple(e for p in parts for e in p.sample)[:SAMPLE],
    )
