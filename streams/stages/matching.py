"""The matching stage: executions → round-trip trades (``domain.matching``) per position.

A ``runtime.deriver`` stage reading ``raw.executions``. It keeps each position's ``Book`` and
the ids of the executions it applied, and writes both to the compacted
``streams-books-changelog`` (``book|<position key>`` → the book as JSON, the last of each batch;
``seen|<position key>|<execution id>`` → ``1``) in the same transaction as the trades, so a
restarted worker reads its books back instead of replaying every execution, and an execution
is applied once however often it is delivered. After each execution it applies, it publishes the
position's open lots (``PositionChanged``) to ``derived.positions``.

**Out-of-order executions.** Executions are applied in event-time order within a grace window
(``FILLSTREAM_GRACE_MS``, default 100 ms). An execution is held until its partition has
delivered one at least ``grace`` later in event time, or until the partition is read to its end
and ``grace`` has passed on the clock since the bridge recorded it; held executions go out in
event-time order (then log order). The first rule depends on the log alone, so a replay applies
executions in the same order the live run did, unless one arrived later than the grace window
(it is then applied when it arrives, and counted as ``late``). Held executions are part of the
stage's state (``held|<source offset>`` in the changelog, written at the end of each batch for
those still waiting then, so one read and applied in the same batch costs no record), so a
restart loses none.

**Market context.** The stage also reads ``raw.market`` and ``raw.signals`` (all partitions) into
a ``domain.context.MarketContext``, from which matching takes MAE/MFE and initial stops. An
execution released from the grace window waits, in order, until that context is complete
through its ingestion time plus the grace (see ``domain.context``), and sees only the context
ingested by then: what the live run saw, a replay sees.

**Contract specifications.** ``raw.instruments`` is read the same way, from its beginning, into a
``domain.contracts.ContractBook``: an execution is valued with the newest definition of its root
ingested by its ingestion time plus the grace, else the built-in table's.

**Corrections and busts.** ``raw.executions`` also carries ``ExecutionCorrected`` and
``ExecutionBusted``, keyed like the execution they amend and so ordered after it; they pass the
grace window like executions (a correction at the later of its time and the fill's, so a clock
behind the exchange's cannot put it before the execution). The stage keeps each position's
journal (``domain.corrections``): the book at the journal's start (``checkpoint|<position key>``)
and each execution applied since
with the trades it closed as last published (``entry|<position key>|<sequence>``), for
``FILLSTREAM_CORRECTION_WINDOW_HOURS`` of event time, at most ``JOURNAL_LIMIT`` executions:
applying an execution or a correction folds the position's executions older than the window (by
that event's time, never the clock) or beyond the limit into the checkpoint and deletes their
entries, so a replay prunes as the live run did. A correction re-derives the
position from its checkpoint and publishes the trades that changed as their next revision (or
voided), then the position as it now stands; one that changes nothing publishes nothing (a
repeated correction, a second bust). Re-derived trades take MAE and MFE from the market context
as it stands, for the executions within the context retention of the correction; older ones get
none (see ``domain.corrections``).

Rejected records go to the dead-letter topic with a code: ``undecodable``, ``wrong_schema``,
``unknown_instrument`` (no contract specification by then), ``invalid`` (not matchable: no
side, no quantity) or ``uncorrectable`` (a correction or bust of an execution matching never
applied, or one folded out of the correction window, or a correction of a busted execution).
"""

from __future__ import annotations

import base64
import bisect
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from core.errors import CodecError, InvalidEventError
from core.settings import Settings
from domain.context import DEFAULT_RETENTION, MarketContext
from domain.contracts import ContractBook
from domain.corrections import (
    Correction,
    Entry,
    Journal,
    correct,
    entry_from_json,
    entry_to_json,
    fold,
    journaled,
    position_corrected,
)
from domain.errors import UnknownInstrumentError
from domain.matching import (
    Book,
    Matching,
    book_from_json,
    book_to_json,
    position_changed,
    position_key,
)
from schemas.catalog import (
    DERIVED_POSITIONS,
    DERIVED_TRADES,
    RAW_EXECUTIONS,
    RAW_INSTRUMENTS,
    RAW_MARKET,
    RAW_SIGNALS,
    STREAMS_BOOKS_CHANGELOG,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import (
    BarClosed,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    InstrumentDefined,
    PositionChanged,
    SignalEmitted,
    TradeClosed,
    schema_name,
)
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record, dead_letter

BOOKS_TOPIC = STREAMS_BOOKS_CHANGELOG
TRADES_TOPIC = DERIVED_TRADES
POSITIONS_TOPIC = DERIVED_POSITIONS
CONTEXT_TOPICS = (RAW_MARKET, RAW_SIGNALS, RAW_INSTRUMENTS)
_STAGE = "streams.matching"
_PRUNE_EVERY = 1000
"""Executions applied between two prunings of the market context."""
DEFAULT_WINDOW = timedelta(hours=168)
"""How long in event time an execution can be corrected (``FILLSTREAM_CORRECTION_WINDOW_HOURS``)."""
JOURNAL_LIMIT = 5000
"""The most executions a position's journal holds, however recent: bounds the stage's memory
(each is kept whole) for a position trading many times a minute."""
_Event = ExecutionReported | ExecutionCorrected | ExecutionBusted

log = logging.getLogger("fillstream.streams")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Held:
    """An execution (or a correction or bust of one) read but not yet applied."""

    execution: _Event
    record: Record
    stale: bool
    """It arrived more than the context retention behind its partition's event time: matching
    gives it no market context, since what it needed may be forgotten."""

    @property
    def order(self) -> tuple[datetime, int]:
        event = self.execution
        at = event.envelope.ts_event
        if isinstance(event, ExecutionCorrected):  # never before the fill it amends, whatever
            at = max(at, event.executed_at)  # the clock of the machine that reported it said
        return (at, self.record.offset)


@dataclass(slots=True)
class _Journal:
    """A position's journal as the stage keeps it: appended to and pruned in place."""

    checkpoint: Book
    entries: deque[Entry]

    def snapshot(self) -> Journal:
        return Journal(checkpoint=self.checkpoint, entries=tuple(self.entries))


class MatchExecutions:
    name = "matching"
    source = RAW_EXECUTIONS
    changelog: str | None = BOOKS_TOPIC

    def __init__(
        self,
        codec: Codec,
        matching: Matching = Matching.FIFO,
        *,
        grace: timedelta = timedelta(0),
        retention: timedelta = DEFAULT_RETENTION,
        context: MarketContext | None = None,
        feed: ContextFeed | None = None,
        clock: Callable[[], datetime] = _now,
        contracts: ContractBook | None = None,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self.codec = codec
        self.matching = matching
        self.grace = grace
        self.retention = retention
        self.window = window
        """How long in event time an execution stays in its position's journal."""
        self.context = context if context is not None else MarketContext()
        self.contracts = contracts if contracts is not None else ContractBook()
        """The built-in specifications and the definitions read from ``raw.instruments``."""
        self.feed = feed
        self.clock = clock
        self.books: dict[int, dict[str, Book]] = {}
        """Source partition → position key → book."""
        self.journals: dict[int, dict[str, _Journal]] = {}
        """Source partition → position key → the journal corrections re-derive from."""
        self._checkpoints: dict[int, dict[str, Book]] = {}
        """Source partition → position key → a checkpoint the current batch moved."""
        self._entries: dict[int, dict[tuple[str, int], Entry | None]] = {}
        """Source partition → (position key, sequence) → a journal entry the current batch
        wrote (None: pruned)."""
        self.seen: dict[int, set[str]] = {}
        """Source partition → ``<position key>|<execution id>`` applied."""
        self.held: dict[int, list[_Held]] = {}
        """Source partition → executions in the grace window, in event-time order."""
        self.ready: dict[int, list[_Held]] = {}
        """Source partition → executions out of the grace window, waiting for market context."""
        self.watermarks: dict[int, datetime] = {}
        """Source partition → the latest event time read there."""
        self.caught_up: frozenset[int] = frozenset()
        self._context_stale = feed is not None
        self._applied = 0
        self._changed: dict[int, dict[str, Book]] = {}
        """Source partition → position key → book, changed by the current batch."""
        self._ranks: dict[int, int] = {}
        """Source partition → the rank of the last execution that became ready there: ready
        executions are restored in rank order."""
        self._persisted: dict[int, dict[int, tuple[str, int]]] = {}
        """Source partition → source offset → the state and rank its ``held|`` record in the
        changelog says (absent: no record, or a tombstone)."""
        self._moved: dict[int, dict[int, tuple[str, int, _Held] | None]] = {}
        """Source partition → source offset → where the current batch left the execution (held
        or ready, with its rank; None once applied): written to the changelog once per batch, so
        one read, released and applied in the same batch costs no record at all."""
        self._new_watermarks: set[int] = set()
        """Source partitions whose watermark the current batch moved."""
        self._outcomes: Counter[tuple[str, str]] = Counter()
        """Executions by topic and outcome in the current batch, counted in the metrics at its
        end."""
        self._closed: list[tuple[datetime, datetime]] = []
        """The trades closed in the current batch: their closing execution's ingestion time and
        their exit time."""

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> MatchExecutions:
        context = MarketContext(settings.excursion_period)
        contracts = ContractBook()
        return cls(
            codec,
            Matching(settings.matching),
            grace=timedelta(milliseconds=settings.grace_ms),
            retention=timedelta(days=settings.context_days),
            window=timedelta(hours=settings.correction_window_hours),
            context=context,
            feed=ContextFeed(settings, codec, context, contracts),
            contracts=contracts,
        )

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        books: dict[str, Book] = {}
        seen: set[str] = set()
        held: dict[int, tuple[str, int, _Held]] = {}
        checkpoints: dict[str, Book] = {}
        entries: dict[str, dict[int, Entry]] = {}
        self._moved.pop(partition, None)
        self._new_watermarks.discard(partition)
        for record in records:
            kind, _, key = (record.key or b"").decode().partition("|")
            if kind == "book" and record.value:
                books[key] = book_from_json(json.loads(record.value))
            elif kind == "seen" and record.value:
                seen.add(key)
            elif kind == "checkpoint" and record.value:
                checkpoints[key] = book_from_json(json.loads(record.value))
            elif kind == "entry":
                position, _, sequence = key.rpartition("|")
                if record.value:
                    entry = entry_from_json(json.loads(record.value), self._execution_from)
                    entries.setdefault(position, {})[int(sequence)] = entry
                else:
                    entries.get(position, {}).pop(int(sequence), None)
            elif kind == "held":
                if record.value:
                    held[int(key)] = self._held_from_json(partition, json.loads(record.value))
                else:
                    held.pop(int(key), None)
            elif kind == "watermark" and record.value:
                self.watermarks[partition] = datetime.fromisoformat(record.value.decode())
        self.books[partition], self.seen[partition] = books, seen
        self.journals[partition] = {
            key: _Journal(
                checkpoint=checkpoints.get(key, Book()),
                entries=deque(e for _, e in sorted(entries.get(key, {}).items())),
            )
            for key in checkpoints.keys() | entries.keys()
        }
        self.held[partition] = sorted(
            (h for state, _, h in held.values() if state == "held"), key=_order
        )
        self.caught_up = frozenset()
        ready = sorted((v for v in held.values() if v[0] == "ready"), key=_rank)
        self.ready[partition] = [h for _, _, h in ready]
        self._ranks[partition] = max((r for _, r, _ in ready), default=0)
        self._persisted[partition] = {
            offset: (state, rank) for offset, (state, rank, _) in held.items()
        }
        self._context_stale = self.feed is not None

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            for state in (
                self.books,
                self.seen,
                self.journals,
                self._checkpoints,
                self._entries,
                self.held,
                self.ready,
                self.watermarks,
                self._ranks,
                self._persisted,
                self._moved,
            ):
                state.pop(partition, None)
            self._new_watermarks.discard(partition)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            execution = self._decoded(record, batch)
            if execution is None:
                continue
            self._hold(record, execution, batch)
            self._release(record.partition, batch)
        self._finish(batch)

    def tick(self, batch: Batch, caught_up: frozenset[int]) -> None:
        self.caught_up = caught_up
        if self.feed is not None:
            if self._context_stale:
                self.feed.start(self._context_floor())
                self._context_stale = False
            self.feed.poll(self._context_needed())
        for partition in list(self.held):
            self._release(partition, batch)
        self._finish(batch)

    def _decoded(self, record: Record, batch: Batch) -> _Event | None:
        """``record``'s execution, correction or bust; else None, and its dead letter in
        ``batch`` (code ``undecodable`` or ``wrong_schema``)."""
        try:
            event = self.codec.decode(record.value)
        except CodecError as e:
            batch.outputs.append(dead_letter(record, str(e), "undecodable", _STAGE))
            return None
        if not isinstance(event, ExecutionReported | ExecutionCorrected | ExecutionBusted):
            reason = (
                "expected ExecutionReported, ExecutionCorrected or ExecutionBusted, "
                f"got {schema_name(event)}"
            )
            batch.outputs.append(dead_letter(record, reason, "wrong_schema", _STAGE))
            return None
        return event

    def _hold(self, record: Record, execution: _Event, batch: Batch) -> None:
        partition = record.partition
        ts = execution.envelope.ts_event
        watermark = self.watermarks.get(partition)
        stale = watermark is not None and ts < watermark - self.retention
        if watermark is None or ts > watermark:
            self.watermarks[partition] = ts
            self._new_watermarks.add(partition)
        held = _Held(execution, record, stale)
        bisect.insort(self.held.setdefault(partition, []), held, key=_order)
        self.caught_up = self.caught_up - {partition}
        self.books.setdefault(partition, {})
        self._moved.setdefault(partition, {})[record.offset] = ("held", 0, held)

    def _release(self, partition: int, batch: Batch) -> None:
        """Move what left the grace window to the ready queue, and apply what is ready."""
        now = self.clock()
        held = self.held.get(partition, [])
        ready = self.ready.setdefault(partition, [])
        watermark = self.watermarks.get(partition)
        while held:
            first = held[0]
            by_log = watermark is not None and watermark >= first.order[0] + self.grace
            by_clock = (
                partition in self.caught_up
                and now >= first.execution.envelope.ts_ingested + self.grace
            )
            if not (by_log or by_clock):
                break
            held.pop(0)
            ready.append(first)
            rank = self._ranks.get(partition, 0) + 1
            self._ranks[partition] = rank
            self._moved.setdefault(partition, {})[first.record.offset] = ("ready", rank, first)
        while ready and not self._context_stale:
            first = ready[0]
            known_by = first.execution.envelope.ts_ingested + self.grace
            if self.feed is not None and not self.context.complete(known_by):
                break
            ready.pop(0)
            self._apply(first, batch)

    def _apply(self, held: _Held, batch: Batch) -> None:
        record, execution = held.record, held.execution
        partition = record.partition
        self._moved.setdefault(partition, {})[record.offset] = None
        if not isinstance(execution, ExecutionReported):
            self._correct(record, execution, batch)
            return
        known_by = execution.envelope.ts_ingested + self.grace
        try:  # the definitions ingested by then, like the market context
            spec = self.contracts.spec_for(execution.instrument, known_by)
        except UnknownInstrumentError as e:
            batch.outputs.append(dead_letter(record, str(e), "unknown_instrument", _STAGE))
            return
        key = position_key(execution)
        books = self.books.setdefault(partition, {})
        seen = self.seen.setdefault(partition, set())
        seen_key = f"{key}|{execution.execution_id}"
        book = books.get(key, Book())
        if seen_key in seen or execution.execution_id in book.recent:
            self._outcomes[(record.topic, "duplicate")] += 1
            return
        late = any(lot.ts_event > execution.envelope.ts_event for lot in book.lots)
        market = None if held.stale else _View(self, execution)
        journals = self.journals.setdefault(partition, {})
        try:
            before = book
            book, trades, entry = journaled(book, execution, spec, self.matching, market)
        except InvalidEventError as e:
            batch.outputs.append(dead_letter(record, str(e), "invalid", _STAGE))
            return
        journal = journals.get(key)
        if journal is None:
            journal = journals[key] = _Journal(checkpoint=before, entries=deque())
            self._checkpoints.setdefault(partition, {})[key] = before
        journal.entries.append(entry)
        self._entries.setdefault(partition, {})[(key, entry.sequence)] = entry
        self._prune(partition, key, journal, execution.envelope.ts_event)
        books[key] = book
        seen.add(seen_key)
        self._changed.setdefault(partition, {})[key] = book
        for trade in trades:
            batch.outputs.append(
                Output(
                    TRADES_TOPIC,
                    f"{trade.account}|{trade.instrument}".encode(),
                    self.codec.encode(trade),
                    record_headers(schema_name(trade), trade.envelope.event_id),
                )
            )
        position = position_changed(book, execution, spec)
        batch.outputs.append(
            Output(
                POSITIONS_TOPIC,
                key.encode(),
                self.codec.encode(position),
                record_headers(schema_name(position), position.envelope.event_id),
            )
        )
        batch.outputs.append(
            Output(BOOKS_TOPIC, f"seen|{seen_key}".encode(), b"1", partition=partition)
        )
        self._outcomes[(record.topic, "late" if late else "applied")] += 1
        self._closed += [(execution.envelope.ts_ingested, trade.exit_time) for trade in trades]
        self._applied += 1
        if self._applied % _PRUNE_EVERY == 0:
            self.context.prune(self._context_floor())

    def _prune(self, partition: int, key: str, journal: _Journal, now: datetime) -> None:
        """Fold the journal's executions older than the correction window at ``now`` (an event
        time), or beyond ``JOURNAL_LIMIT``, into its checkpoint."""
        before, entries = now - self.window, journal.entries
        gone: list[Entry] = []
        while entries and (
            len(entries) > JOURNAL_LIMIT or entries[0].execution.envelope.ts_event < before
        ):
            gone.append(entries.popleft())
        if gone:
            journal.checkpoint = fold(journal.checkpoint, gone, self.matching)
            self._checkpoints.setdefault(partition, {})[key] = journal.checkpoint
            written = self._entries.setdefault(partition, {})
            for entry in gone:
                written[(key, entry.sequence)] = None

    def _correct(self, record: Record, correction: Correction, batch: Batch) -> None:
        """Apply a correction or bust to the journal of the position holding its execution."""
        partition = record.partition
        journals = self.journals.setdefault(partition, {})
        prefix = f"{correction.account}|{correction.instrument}|"
        now = correction.envelope.ts_event
        found: tuple[str, Entry] | None = None
        for key in sorted(k for k in journals if k.startswith(prefix)):
            self._prune(partition, key, journals[key], now)
            entry = journals[key].snapshot().find(correction.execution_id)
            if entry is not None:
                found = (key, entry)
        if found is None:
            reason = self._uncorrectable(partition, prefix, correction)
            batch.outputs.append(dead_letter(record, reason, "uncorrectable", _STAGE))
            return
        key, entry = found
        if entry.busted:
            if isinstance(correction, ExecutionBusted):  # busted already: nothing more to do
                self._outcomes[(record.topic, "duplicate")] += 1
                return
            reason = (
                f"execution {correction.execution_id!r} ({key}) was busted: "
                "a busted execution cannot be corrected"
            )
            batch.outputs.append(dead_letter(record, reason, "uncorrectable", _STAGE))
            return
        books = self.books.setdefault(partition, {})
        try:
            done = correct(
                journals[key].snapshot(),
                books.get(key, Book()),
                correction,
                self.matching,
                self._market_for(correction),
            )
        except InvalidEventError as e:
            batch.outputs.append(dead_letter(record, str(e), "invalid", _STAGE))
            return
        journals[key].entries = deque(done.journal.entries)
        written = self._entries.setdefault(partition, {})
        for changed in done.entries:
            written[(key, changed.sequence)] = changed
        if not done.changed:
            self._outcomes[(record.topic, "unchanged")] += 1
            return
        books[key] = done.book
        self._changed.setdefault(partition, {})[key] = done.book
        for trade in done.trades:
            account_instrument = f"{trade.account}|{trade.instrument}"
            batch.outputs.append(self._event(TRADES_TOPIC, account_instrument, trade))
        amended = done.journal.find(correction.execution_id)
        assert amended is not None
        position = position_corrected(done.book, amended, correction)
        batch.outputs.append(self._event(POSITIONS_TOPIC, key, position))
        self._outcomes[(record.topic, "corrected")] += 1

    def _uncorrectable(self, partition: int, prefix: str, correction: Correction) -> str:
        """Why no journal holds the execution ``correction`` amends."""
        execution_id = correction.execution_id
        seen = self.seen.get(partition, set())
        keys = [k for k in self.books.get(partition, {}) if k.startswith(prefix)]
        if any(f"{key}|{execution_id}" in seen for key in keys):
            hours = self.window / timedelta(hours=1)
            return (
                f"execution {execution_id!r} ({prefix}…) was matched more than "
                f"FILLSTREAM_CORRECTION_WINDOW_HOURS ({hours:g} h) of event time before this "
                f"correction, or more than {JOURNAL_LIMIT} executions of its position ago: "
                "folded into the position, it can no longer be corrected"
            )
        return (
            f"execution {execution_id!r} ({prefix}…) is unknown: matching never applied it, "
            "so there is nothing to correct"
        )

    def _market_for(self, correction: Correction) -> Callable[[Entry], _View | None]:
        """The market context a re-derivation gives each execution: what it saw when applied,
        for those within the context retention of the correction; none for older ones."""
        horizon = correction.envelope.ts_event - self.retention

        def market_for(entry: Entry) -> _View | None:
            if entry.stale or entry.execution.envelope.ts_event < horizon:
                return None
            return _View(self, entry.execution)

        return market_for

    def _event(self, topic: str, key: str, event: TradeClosed | PositionChanged) -> Output:
        return Output(
            topic,
            key.encode(),
            self.codec.encode(event),
            record_headers(schema_name(event), event.envelope.event_id),
        )

    def _finish(self, batch: Batch) -> None:
        """Write each book, watermark and waiting execution the batch changed, once."""
        for partition, moved in self._moved.items():
            persisted = self._persisted.setdefault(partition, {})
            for offset, now in moved.items():
                if now is None:
                    if persisted.pop(offset, None) is not None:
                        gone = f"held|{offset}".encode()
                        batch.outputs.append(Output(BOOKS_TOPIC, gone, None, partition=partition))
                elif persisted.get(offset) != now[:2]:
                    state, rank, held = now
                    persisted[offset] = (state, rank)
                    self._write_held(held, state, rank, batch)
        self._moved.clear()
        for partition in self._new_watermarks:
            ts = self.watermarks[partition].isoformat().encode()
            batch.outputs.append(Output(BOOKS_TOPIC, b"watermark", ts, partition=partition))
        self._new_watermarks.clear()
        for partition, books in self._changed.items():
            for key, book in books.items():
                batch.outputs.append(
                    Output(
                        BOOKS_TOPIC,
                        f"book|{key}".encode(),
                        json.dumps(book_to_json(book)).encode(),
                        partition=partition,
                    )
                )
        self._changed.clear()
        for partition, checkpoints in self._checkpoints.items():
            for key, book in checkpoints.items():
                value = json.dumps(book_to_json(book)).encode()
                checkpoint = f"checkpoint|{key}".encode()
                batch.outputs.append(Output(BOOKS_TOPIC, checkpoint, value, partition=partition))
        self._checkpoints.clear()
        for partition, entries in self._entries.items():
            for (key, sequence), entry in entries.items():
                written = None
                if entry is not None:
                    written = json.dumps(entry_to_json(entry, self._execution_to)).encode()
                name = f"entry|{key}|{sequence}".encode()
                batch.outputs.append(Output(BOOKS_TOPIC, name, written, partition=partition))
        self._entries.clear()
        self._count()
        metrics.HELD.set(sum(map(len, self.held.values())) + sum(map(len, self.ready.values())))

    def _count(self) -> None:
        """Count the batch's outcomes and closed trades in the metrics, once per batch (each
        count is a locked write to a shared file)."""
        for (topic, outcome), n in self._outcomes.items():
            metrics.EVENTS.labels(topic, outcome).inc(n)
        self._outcomes.clear()
        if self._closed:
            metrics.TRADES.inc(len(self._closed))
            now = _now()
            for ingested, exited in self._closed:
                metrics.LATENCY.observe(max(0.0, (now - ingested).total_seconds()))
                metrics.EVENT_LATENCY.observe(max(0.0, (now - exited).total_seconds()))
            self._closed.clear()

    def _execution_to(self, execution: ExecutionReported) -> str:
        """A journal entry's execution: its Avro payload in base64."""
        return base64.b64encode(self.codec.encode(execution)).decode()

    def _execution_from(self, text: str) -> ExecutionReported:
        execution = self.codec.decode(base64.b64decode(text))
        if not isinstance(execution, ExecutionReported):
            raise CodecError(f"journal entry: holds {schema_name(execution)}, not an execution")
        return execution

    def _write_held(self, held: _Held, state: str, rank: int, batch: Batch) -> None:
        value = {
            "state": state,
            "rank": rank,
            "stale": held.stale,
            "offset": held.record.offset,
            "payload": base64.b64encode(held.record.value).decode(),
        }
        batch.outputs.append(
            Output(
                BOOKS_TOPIC,
                f"held|{held.record.offset}".encode(),
                json.dumps(value).encode(),
                partition=held.record.partition,
            )
        )

    def _held_from_json(self, partition: int, data: dict[str, Any]) -> tuple[str, int, _Held]:
        payload = base64.b64decode(data["payload"])
        execution = self.codec.decode(payload)
        if not isinstance(execution, ExecutionReported | ExecutionCorrected | ExecutionBusted):
            raise CodecError(f"held execution at offset {data['offset']} is not one")
        record = Record(self.source, partition, int(data["offset"]), None, payload)
        held = _Held(execution, record, bool(data["stale"]))
        return data["state"], int(data["rank"]), held

    def _context_floor(self) -> datetime:
        """What matching may still ask of the context: nothing that closed (or was emitted)
        more than ``2 × retention`` before the earliest of the partitions' watermarks and the
        waiting executions' event times."""
        floors = list(self.watermarks.values())
        floors += [h.execution.envelope.ts_event for q in self.held.values() for h in q]
        floors += [h.execution.envelope.ts_event for q in self.ready.values() for h in q]
        if not floors:  # nothing matched yet: all of the context may count
            return datetime(1970, 1, 1, tzinfo=UTC) + 2 * self.retention
        return min(floors) - 2 * self.retention

    def _context_needed(self) -> datetime | None:
        """How far in ingestion time the context must be read for the waiting executions."""
        heads = [q[0] for q in self.ready.values() if q]
        if not heads:
            return None
        return max(h.execution.envelope.ts_ingested for h in heads) + self.grace


def _rank(item: tuple[str, int, _Held]) -> int:
    return item[1]


def _order(held: _Held) -> tuple[datetime, int]:
    return held.order


class _View:
    """The market context one execution may see (``domain.matching.Market``)."""

    def __init__(self, stage: MatchExecutions, execution: ExecutionReported) -> None:
        self.context = stage.context
        self.instrument = execution.instrument
        self.known_by = execution.envelope.ts_ingested + stage.grace
        self.since = execution.envelope.ts_event - stage.retention

    def extremes(self, after: datetime, through: datetime) -> tuple[Decimal, Decimal] | None:
        if after < self.since:
            return None
        found = self.context.extremes(self.instrument, after, through, self.known_by)
        return None if found is None else (found.high, found.low)

    def stop(self, signal_id: str) -> Decimal | None:
        signal = self.context.signal(signal_id, self.known_by, self.since)
        return None if signal is None else signal.intended_stop


class ContextFeed:
    """Reads ``raw.market`` and ``raw.signals`` (every partition, committed records only) into a
    ``MarketContext``, and ``raw.instruments`` (all of it: definitions are kept forever) into a
    ``ContractBook``; the context tracks how far each of their partitions is read."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        context: MarketContext,
        contracts: ContractBook | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.context = context
        self.contracts = contracts if contracts is not None else ContractBook()
        self.consumer: Consumer | None = None
        self.ends: Consumer | None = None
        """A second client, never assigned, that asks for end offsets: the reading consumer's
        broker connection is busy with long-polling fetches, which would delay each question
        by up to ``fetch.wait.max.ms``."""
        self.starts: dict[tuple[str, int], int] = {}
        """Where reading began, per partition."""

    def start(self, since: datetime) -> None:
        """Forget what was read and read again from the records produced since ``since``
        (an hour earlier, for clocks that disagree)."""
        self.close()
        self.context.clear()
        self.contracts.clear()
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.settings.group("streams.matching.context"),
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        ends = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.settings.group("streams.matching.context"),
                "enable.auto.commit": False,
            }
        )
        try:
            self._assign(consumer, since)
        except BaseException:
            consumer.close()
            ends.close()
            raise
        self.consumer, self.ends = consumer, ends
        log.info("matching reads market context produced since %s", since.isoformat())

    def _assign(self, consumer: Consumer, since: datetime) -> None:
        millis = max(0, int((since - timedelta(hours=1)).timestamp() * 1000))
        wanted = []
        for name in CONTEXT_TOPICS:
            topic = self.settings.topic(name)
            metadata = consumer.list_topics(topic, timeout=30).topics[topic]
            for partition in metadata.partitions:
                wanted.append(TopicPartition(topic, partition, millis))
                self.context.watch(topic, partition)
        self.starts = {}
        instruments = self.settings.topic(RAW_INSTRUMENTS)
        for tp in consumer.offsets_for_times(wanted, timeout=30):
            offset = tp.offset
            if tp.topic == instruments:  # every definition counts, however old
                offset = consumer.get_watermark_offsets(tp, timeout=30)[0]
            elif offset < 0:  # nothing produced since: read from its end
                offset = consumer.get_watermark_offsets(tp, timeout=30)[1]
            self.starts[(tp.topic, tp.partition)] = offset
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in self.starts.items()])

    def poll(self, needed: datetime | None, budget: float = 0.5) -> None:
        """Read what has arrived; while the context is not complete through ``needed``, read
        more (up to ``budget`` seconds), and once the clock is past ``needed`` ask the broker
        whether the partitions still behind hold anything unread."""
        consumer = self.consumer
        if consumer is None:
            return
        deadline = _now() + timedelta(seconds=budget)
        messages = consumer.consume(1000, timeout=0)
        while True:
            for message in messages:
                self._read(message)
            if needed is None or self.context.complete(needed):
                return
            checked = _now()
            if not messages and checked >= needed:  # idle: ask the broker what is left
                self._check_ends(consumer, needed, checked)
                if self.context.complete(needed):
                    return
            if checked >= deadline:
                return
            wait = (needed - checked).total_seconds() if checked < needed else 0.05
            messages = consumer.consume(1000, timeout=min(wait, budget))

    def _check_ends(self, consumer: Consumer, needed: datetime, checked: datetime) -> None:
        """Mark read to their end, as of ``checked``, the partitions behind ``needed`` whose
        every record up to the broker's current end has been read."""
        for topic, partition in self.context.behind(needed):
            tp = TopicPartition(topic, partition)
            assert self.ends is not None
            _, high = self.ends.get_watermark_offsets(tp, timeout=5, cached=False)
            (position,) = consumer.position([tp])
            offset = position.offset if position.offset >= 0 else self.starts[(topic, partition)]
            if offset >= high:
                self.context.read_all(topic, partition, checked)

    def _read(self, message: Any) -> None:
        topic, partition = message.topic(), message.partition()
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("market context: %s", error)
            return
        try:
            event = self.codec.decode(message.value() or b"")
        except CodecError as e:
            log.warning("market context: %s/%s/%s: %s", topic, partition, message.offset(), e)
            return
        if isinstance(event, BarClosed | SignalEmitted):
            self.context.observe(topic, partition, event)
        elif isinstance(event, InstrumentDefined):
            self.contracts.define(event)
            self.context.passed(topic, partition, event.envelope.ts_ingested)

    def close(self) -> None:
        for client in (self.consumer, self.ends):
            if client is not None:
                client.close()
        self.consumer = self.ends = None
