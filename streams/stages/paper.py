"""Shadow mode: signals paper-traded on the market's bars, as executions with source ``paper``
that flow through matching and performance like live ones (``FILLSTREAM_PAPER``).

Four ``streams.runtime.deriver`` stages:

1. ``paper-signals`` copies each signal that has a stop and a target (``domain.paper.check``)
   from ``raw.signals`` to ``streams-paper-feed``, keyed by instrument;
2. ``paper-bars`` copies each bar of ``FILLSTREAM_EXCURSION_PERIOD`` from ``raw.market`` to the
   same topic, keyed by instrument, so one partition holds an instrument's bars and signals;
3. ``paper-instruments`` copies each ``InstrumentDefined`` of ``raw.instruments`` to every
   partition of the same topic, so each partition knows every definition;
4. ``paper`` folds them, per instrument: a signal is entered at the first bar closing after it
   and exited by the bars that follow (``domain.paper``), valued with the newest definition of
   its root read so far, else the built-in table (``domain.contracts.ContractBook``). It
   publishes two executions to ``raw.executions``: ``paper-<signal id>-in`` when it is entered
   and ``paper-<signal id>-out`` when it is exited, both with source ``paper``, the signal's
   strategy and variant, account ``PAPER:<account>`` (so paper positions and figures never mix
   with live ones), timed at the close of the bar that filled them.

The first three stages write the feed independently, so a signal may reach the last before or
after the bars that follow it, or before the definition of its root; it keeps
``FILLSTREAM_CONTEXT_DAYS`` of bars per instrument, so either way the same executions come out:
a signal whose root is not known yet waits, and is followed through the bars kept once its
definition arrives. A signal older than the bars kept is passed over
(``fillstream_stream_events_total{outcome="too_late"}``), and so is one still waiting for its
root's definition when the bars of its time are let go (``outcome="unknown_instrument"``). Bars
out of order are ignored. The state (the bars kept, the signals not yet exited and the
definitions read) is in ``streams-paper-changelog``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.errors import FillstreamError
from core.settings import Settings
from domain.contracts import ContractBook, ContractSpec, root_of
from domain.errors import PaperError, UnknownInstrumentError
from domain.paper import PAPER_PREFIX, FillModel, PaperTrade, check, enter, step
from schemas.catalog import (
    RAW_EXECUTIONS,
    RAW_INSTRUMENTS,
    RAW_MARKET,
    RAW_SIGNALS,
    STREAMS_PAPER_CHANGELOG,
    STREAMS_PAPER_FEED,
    load_catalog,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import (
    BarClosed,
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    InstrumentDefined,
    PositionEffect,
    Side,
    SignalEmitted,
    SignalId,
    Source,
    schema_name,
)
from streams.runtime import metrics
from streams.runtime.deriver import (
    Batch,
    Output,
    Record,
    Stateless,
    copy_to,
    decoded,
    to_every_partition,
)

FEED_TOPIC = STREAMS_PAPER_FEED
EXECUTIONS_TOPIC = RAW_EXECUTIONS
PRODUCER = "fillstream streams.paper"


class PaperSignals(Stateless):
    """Stage 1; see the module docstring."""

    name = "paper-signals"
    source = RAW_SIGNALS

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            signal = decoded(self.codec, record, SignalEmitted, batch, "streams.paper-signals")
            if signal is None:
                continue
            try:
                check(signal)
            except PaperError:
                continue
            copied += 1
            batch.outputs.append(copy_to(record, FEED_TOPIC, signal.instrument, signal))
        _count(records, copied)


class PaperBars(Stateless):
    """Stage 2; see the module docstring."""

    name = "paper-bars"
    source = RAW_MARKET

    def __init__(self, codec: Codec, period: str) -> None:
        self.codec = codec
        self.period = period

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            bar = decoded(self.codec, record, BarClosed, batch, "streams.paper-bars")
            if bar is None or bar.period != self.period:
                continue
            copied += 1
            batch.outputs.append(copy_to(record, FEED_TOPIC, bar.instrument, bar))
        _count(records, copied)


class PaperInstruments(Stateless):
    """Stage 3; see the module docstring."""

    name = "paper-instruments"
    source = RAW_INSTRUMENTS

    def __init__(self, codec: Codec, partitions: int | None = None) -> None:
        self.codec = codec
        self.partitions = partitions or load_catalog()[FEED_TOPIC].partitions

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            definition = decoded(
                self.codec, record, InstrumentDefined, batch, "streams.paper-instruments"
            )
            if definition is None:
                continue
            copied += 1
            batch.outputs.extend(
                to_every_partition(record, definition, FEED_TOPIC, self.partitions)
            )
        _count(records, copied)


@dataclass(frozen=True, slots=True)
class _Valuation:
    """How a partition values an instrument: its specification, and when the definition it
    comes from was ingested (None: the built-in table's)."""

    spec: ContractSpec
    defined_at: datetime | None


@dataclass(slots=True)
class _Instrument:
    """What the paper stage keeps of one instrument."""

    bars: dict[datetime, BarClosed] = field(default_factory=dict)
    """The bars kept, by close time, oldest first."""
    pruned_through: datetime | None = None
    """The close time of the last bar let go: a signal before it is too late."""
    open: dict[str, tuple[SignalEmitted, PaperTrade | None]] = field(default_factory=dict)
    """Signals not yet exited: not yet entered (None), or their open trade."""


class PaperTrades:
    """Stage 4; see the module docstring."""

    name = "paper"
    source = FEED_TOPIC
    changelog: str | None = STREAMS_PAPER_CHANGELOG

    def __init__(self, codec: Codec, model: FillModel, retention: timedelta) -> None:
        self.codec = codec
        self.model = model
        self.retention = retention
        self.held: dict[int, dict[str, _Instrument]] = {}
        self.books: dict[int, ContractBook] = {}
        """The definitions read, per partition (each partition gets every one)."""
        self.definitions: dict[int, dict[bytes, bytes]] = {}
        """Their changelog records, per partition: ``instrument|<root>|<event id>`` -> payload."""
        self._changed: dict[int, set[bytes]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> PaperTrades:
        model = FillModel(
            slippage_ticks=settings.paper_slippage_ticks,
            commission_per_contract=settings.paper_commission,
        )
        return cls(codec, model, timedelta(days=settings.context_days))

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        kept: dict[bytes, bytes] = {}
        for record in records:
            if record.key is not None:
                if record.value:
                    kept[record.key] = record.value
                else:
                    kept.pop(record.key, None)
        held: dict[str, _Instrument] = {}
        book, definitions = ContractBook(), {}
        for key, value in kept.items():
            kind, instrument, _ = key.decode().split("|", 2)
            if kind == "instrument":
                definition = self.codec.decode(value)
                assert isinstance(definition, InstrumentDefined)
                book.define(definition)
                definitions[key] = value
                continue
            state = held.setdefault(instrument, _Instrument())
            if kind == "bar":
                event = self.codec.decode(value)
                assert isinstance(event, BarClosed)
                state.bars[event.envelope.ts_event] = event
            elif kind == "pruned":
                state.pruned_through = datetime.fromisoformat(value.decode())
            else:
                signal, trade = _open_from_json(self.codec, json.loads(value))
                state.open[signal.signal_id] = (signal, trade)
        for state in held.values():
            state.bars = dict(sorted(state.bars.items()))
        self.held[partition] = held
        self.books[partition], self.definitions[partition] = book, definitions

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.held.pop(partition, None)
            self.books.pop(partition, None)
            self.definitions.pop(partition, None)
            self._changed.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            try:
                event = self.codec.decode(record.value)
            except FillstreamError:
                decoded(self.codec, record, SignalEmitted, batch, "streams.paper")  # dead letter
                continue
            held = self.held.setdefault(record.partition, {})
            match event:
                case BarClosed():
                    state = held.setdefault(event.instrument, _Instrument())
                    self._bar(record.partition, state, event, batch)
                case SignalEmitted():
                    state = held.setdefault(event.instrument, _Instrument())
                    self._signal(record.partition, state, event, batch)
                case InstrumentDefined():
                    self._define(record.partition, event, record.value, batch)
        if records:
            metrics.EVENTS.labels(records[0].topic, "paper").inc(len(records))
        for partition, keys in self._changed.items():
            for key in sorted(keys):
                batch.outputs.append(
                    Output(
                        self.changelog or "", key, self._kept(partition, key), partition=partition
                    )  # fmt: skip
                )
        self._changed.clear()

    def _signal(
        self, partition: int, state: _Instrument, signal: SignalEmitted, batch: Batch
    ) -> None:
        at = signal.envelope.ts_event
        if signal.signal_id in state.open:
            return  # delivered twice
        if state.pruned_through is not None and at < state.pruned_through:
            metrics.EVENTS.labels(FEED_TOPIC, "too_late").inc()
            return
        valued = self._valued(partition, signal.instrument)
        trade = None if valued is None else self._follow(state, signal, valued, batch)
        if trade is not None and trade.exit is not None:
            return  # exited on the bars kept: nothing to remember
        state.open[signal.signal_id] = (signal, trade)  # waiting for a bar, or for its root
        self._mark(partition, "open", signal.instrument, signal.signal_id)

    def _follow(
        self, state: _Instrument, signal: SignalEmitted, valued: _Valuation, batch: Batch
    ) -> PaperTrade | None:
        """A signal not yet entered, through the bars kept that closed after it."""
        trade: PaperTrade | None = None
        for bar in state.bars.values():
            if bar.envelope.ts_event > signal.envelope.ts_event:
                trade = self._advance(signal, trade, bar, valued, batch)
                if trade.exit is not None:
                    break
        return trade

    def _define(
        self, partition: int, definition: InstrumentDefined, payload: bytes, batch: Batch
    ) -> None:
        """A definition read: the signals of its root that waited for it are followed now."""
        key = f"instrument|{definition.root}|{definition.envelope.event_id}".encode()
        definitions = self.definitions.setdefault(partition, {})
        if key in definitions:
            return  # delivered twice
        definitions[key] = payload
        self._book(partition).define(definition)
        self._changed.setdefault(partition, set()).add(key)
        for instrument, state in self.held.get(partition, {}).items():
            if root_of(instrument) != definition.root:
                continue
            valued = self._valued(partition, instrument)
            assert valued is not None
            for signal_id, (signal, trade) in list(state.open.items()):
                if trade is not None:
                    continue
                trade = self._follow(state, signal, valued, batch)
                if trade is not None and trade.exit is not None:
                    del state.open[signal_id]
                else:
                    state.open[signal_id] = (signal, trade)
                self._mark(partition, "open", instrument, signal_id)

    def _book(self, partition: int) -> ContractBook:
        return self.books.setdefault(partition, ContractBook())

    def _valued(self, partition: int, instrument: str) -> _Valuation | None:
        """How the partition values ``instrument`` now, or None (its root is not known yet)."""
        book = self._book(partition)
        try:
            spec = book.spec_for(instrument)
        except UnknownInstrumentError:
            return None
        newest = book.newest(root_of(instrument))
        return _Valuation(spec, None if newest is None else newest.envelope.ts_ingested)

    def _bar(self, partition: int, state: _Instrument, bar: BarClosed, batch: Batch) -> None:
        at = bar.envelope.ts_event
        if state.bars and at <= next(reversed(state.bars)):
            return  # a duplicate or out of order
        state.bars[at] = bar
        self._mark(partition, "bar", bar.instrument, at.isoformat())
        valued = self._valued(partition, bar.instrument)
        for signal_id, (signal, trade) in list(state.open.items()):
            if at <= signal.envelope.ts_event or valued is None:
                continue  # not yet, or its root is not known yet
            trade = self._advance(signal, trade, bar, valued, batch)
            if trade.exit is not None:
                del state.open[signal_id]
            else:
                state.open[signal_id] = (signal, trade)
            self._mark(partition, "open", bar.instrument, signal_id)
        horizon = at - self.retention
        while state.bars and (oldest := next(iter(state.bars))) < horizon:
            del state.bars[oldest]
            state.pruned_through = oldest
            self._mark(partition, "bar", bar.instrument, oldest.isoformat())
            self._mark(partition, "pruned", bar.instrument, "")
        if valued is None and state.pruned_through is not None:
            for signal_id, (signal, _) in list(state.open.items()):
                if signal.envelope.ts_event < state.pruned_through:  # its bars are gone
                    del state.open[signal_id]
                    self._mark(partition, "open", bar.instrument, signal_id)
                    metrics.EVENTS.labels(FEED_TOPIC, "unknown_instrument").inc()

    def _advance(
        self,
        signal: SignalEmitted,
        trade: PaperTrade | None,
        bar: BarClosed,
        valued: _Valuation,
        batch: Batch,
    ) -> PaperTrade:
        """``trade`` after ``bar``, publishing its entry and exit executions as they happen."""
        spec = valued.spec
        if trade is None:
            trade = enter(signal, bar, spec, self.model)
            batch.outputs.append(self._execution(signal, trade, bar, valued, entry=True))
        else:
            trade = step(trade, signal, bar, spec, self.model)
        if trade.exit is not None:
            batch.outputs.append(self._execution(signal, trade, bar, valued, entry=False))
        return trade

    def _execution(
        self,
        signal: SignalEmitted,
        trade: PaperTrade,
        bar: BarClosed,
        valued: _Valuation,
        *,
        entry: bool,
    ) -> Output:
        """A paper execution, ingested when the last of what made it was: the signal, the bar
        and the definition it is valued with (so matching values it the same way)."""
        ingested = max(signal.envelope.ts_ingested, bar.envelope.ts_ingested)
        if valued.defined_at is not None:
            ingested = max(ingested, valued.defined_at)
        long = (trade.direction.value == "long") == entry
        at = trade.entry_time if entry else trade.exit_time
        price = trade.entry_price if entry else trade.exit_price
        assert at is not None and price is not None
        suffix = "in" if entry else "out"
        account = PAPER_PREFIX + (signal.account or "")
        event = ExecutionReported(
            envelope=Envelope(
                event_id=EventId(f"paper-{signal.signal_id}-{suffix}"),
                ts_event=at,
                ts_ingested=ingested,
                source=Source.PAPER,
                producer=PRODUCER,
                causation_ids=(signal.envelope.event_id, bar.envelope.event_id),
            ),
            execution_id=ExecutionId(f"paper-{signal.signal_id}-{suffix}"),
            account=account,
            instrument=signal.instrument,
            side=Side.BUY if long else Side.SELL,
            quantity=trade.quantity,
            price=price,
            commission=self.model.commission_per_contract * trade.quantity,
            fees=Decimal(0),
            order_name="Paper entry" if entry else f"Paper {trade.exit}",
            position_effect=PositionEffect.ENTRY if entry else PositionEffect.EXIT,
            strategy=signal.strategy,
            variant=signal.variant,
            signal_id=SignalId(signal.signal_id),
        )
        return Output(
            EXECUTIONS_TOPIC,
            f"{account}|{signal.instrument}".encode(),
            self.codec.encode(event),
            record_headers(schema_name(event), event.envelope.event_id),
        )

    def _mark(self, partition: int, kind: str, instrument: str, name: str) -> None:
        self._changed.setdefault(partition, set()).add(f"{kind}|{instrument}|{name}".encode())

    def _kept(self, partition: int, key: bytes) -> bytes | None:
        """The changelog value of ``key`` now: None (a tombstone) once it is gone."""
        kind, instrument, name = key.decode().split("|", 2)
        if kind == "instrument":
            return self.definitions.get(partition, {}).get(key)
        state = self.held.get(partition, {}).get(instrument)
        if state is None:
            return None
        if kind == "bar":
            kept = state.bars.get(datetime.fromisoformat(name))
            return None if kept is None else self.codec.encode(kept)
        if kind == "pruned":
            return (
                None if state.pruned_through is None else state.pruned_through.isoformat().encode()
            )
        held = state.open.get(name)
        return None if held is None else json.dumps(_open_json(self.codec, *held)).encode()


def _count(records: Sequence[Record], copied: int) -> None:
    if records:
        metrics.EVENTS.labels(records[0].topic, "paper_feed").inc(copied)
        metrics.EVENTS.labels(records[0].topic, "passed").inc(len(records) - copied)


def _open_json(codec: Codec, signal: SignalEmitted, trade: PaperTrade | None) -> dict[str, Any]:
    kept: dict[str, Any] = {"signal": codec.encode(signal).hex(), "trade": None}
    if trade is not None:
        kept["trade"] = {
            "quantity": trade.quantity,
            "entry_time": trade.entry_time.isoformat(),
            "entry_price": str(trade.entry_price),
            "commission": str(trade.commission),
        }
    return kept


def _open_from_json(codec: Codec, kept: dict[str, Any]) -> tuple[SignalEmitted, PaperTrade | None]:
    signal = codec.decode(bytes.fromhex(kept["signal"]))
    assert isinstance(signal, SignalEmitted)
    held = kept["trade"]
    if held is None:
        return signal, None
    return signal, PaperTrade(
        signal_id=signal.signal_id,
        instrument=signal.instrument,
        direction=signal.direction,
        quantity=int(held["quantity"]),
        entry_time=datetime.fromisoformat(held["entry_time"]),
        entry_price=Decimal(held["entry_price"]),
        commission=Decimal(held["commission"]),
    )
