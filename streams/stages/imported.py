"""Imported trades: the trades of NinjaTrader's Trades exports (``raw.nt-trades``) published on
``derived.trades`` as ``TradeClosed`` with source ``import``, counted once beside the trades
derived from executions (``domain.imported``).

Four ``streams.runtime.deriver`` stages:

1. ``imported-reported`` copies each ``TradeReported`` from ``raw.nt-trades`` to
   ``streams-imported-feed``, keyed by account;
2. ``imported-derived`` copies each ``TradeClosed`` of ``derived.trades`` derived from executions
   (not imported, not paper trading's) to the same topic, keyed by account;
3. ``imported-trades`` folds them per account into ``domain.imported.Group``s and publishes the
   imported trades, and each later revision that covers or uncovers one, on ``derived.trades``
   (keyed ``account|instrument``, as matching keys its trades): from there the trades
   projection, the performance stages and the gate take them like any other trade. A covered
   pair whose prices or net P&L differ is logged, and counted in
   ``fillstream_stream_imported_differences_total``.

A fourth stage, ``imported-instruments``, copies each ``InstrumentDefined`` of
``raw.instruments`` to every partition of the feed: an imported trade's point value is its
root's newest definition, else the built-in contract table's (``domain.contracts``), as the
import itself checked. A row whose root neither knows yet waits in the state for its
definition (the copies of the two topics are independent, so a definition can arrive after the
trades it was made for).

The state is in ``streams-imported-changelog``, on the record's partition, in the same
transaction as the trades: ``group|FINGERPRINT`` (the group, JSON, imported trades as base64
Avro), ``derived|TRADE_ID`` (the fingerprint a derived trade is in, to move it when a
correction changes its times or voids it), ``definition|EVENT_ID`` and ``waiting|EVENT_ID``
(base64 Avro).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from core.errors import FillstreamError
from domain.contracts import ContractBook, root_of
from domain.errors import UnknownInstrumentError
from domain.imported import (
    Derived,
    Group,
    Settled,
    derived_of,
    fingerprint_of,
    imported_trade,
    with_derived,
    with_reported,
    without_derived,
)
from domain.paper import paper_account
from schemas.catalog import (
    DERIVED_TRADES,
    RAW_INSTRUMENTS,
    RAW_NT_TRADES,
    STREAMS_IMPORTED_CHANGELOG,
    STREAMS_IMPORTED_FEED,
    load_catalog,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import InstrumentDefined, Source, TradeClosed, TradeReported, schema_name
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

log = logging.getLogger("fillstream.streams")

FEED_TOPIC = STREAMS_IMPORTED_FEED
_STAGE = "streams.imported-trades"


class CopyReported(Stateless):
    """Stage 1; see the module docstring."""

    name = "imported-reported"
    source = RAW_NT_TRADES

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            event = decoded(self.codec, record, TradeReported, batch, f"streams.{self.name}")
            if event is not None:
                copied += 1
                batch.outputs.append(copy_to(record, FEED_TOPIC, event.account, event))
        if records:
            metrics.EVENTS.labels(records[0].topic, "copied").inc(copied)


class CopyDerived(Stateless):
    """Stage 2; see the module docstring."""

    name = "imported-derived"
    source = DERIVED_TRADES

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            event = decoded(self.codec, record, TradeClosed, batch, f"streams.{self.name}")
            if event is None or event.envelope.source in (Source.IMPORT, Source.PAPER):
                continue
            if paper_account(event.account):
                continue
            copied += 1
            batch.outputs.append(copy_to(record, FEED_TOPIC, event.account, event))
        if records:
            metrics.EVENTS.labels(records[0].topic, "copied").inc(copied)


class CopyInstruments(Stateless):
    """Stage 4; see the module docstring."""

    name = "imported-instruments"
    source = RAW_INSTRUMENTS

    def __init__(self, codec: Codec, partitions: int | None = None) -> None:
        self.codec = codec
        self.partitions = partitions or load_catalog()[FEED_TOPIC].partitions

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        copied = 0
        for record in records:
            event = decoded(self.codec, record, InstrumentDefined, batch, f"streams.{self.name}")
            if event is None:
                continue
            copied += 1
            batch.outputs.extend(to_every_partition(record, event, FEED_TOPIC, self.partitions))
        if records:
            metrics.EVENTS.labels(records[0].topic, "copied").inc(copied)


class PublishImported:
    """Stage 3; see the module docstring."""

    name = "imported-trades"
    source = FEED_TOPIC
    changelog: str | None = STREAMS_IMPORTED_CHANGELOG

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.contracts: dict[int, ContractBook] = {}
        """Feed partition → the definitions copied to it."""
        self.waiting: dict[int, dict[str, TradeReported]] = {}
        """Feed partition → event id → a reported trade whose root is not known yet."""
        self.groups: dict[int, dict[str, Group]] = {}
        """Feed partition → fingerprint → its group."""
        self.placed: dict[int, dict[str, str]] = {}
        """Feed partition → derived trade id → the fingerprint it is in."""
        self._changed: dict[int, set[str]] = {}
        self._moved: dict[int, set[str]] = {}
        self._kept: dict[int, dict[str, bytes | None]] = {}
        """Feed partition → changelog key → value: definitions and waiting trades to write."""

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        groups: dict[str, Group] = {}
        placed: dict[str, str] = {}
        contracts = ContractBook()
        waiting: dict[str, TradeReported] = {}
        for record in records:
            kind, _, name = (record.key or b"").decode().partition("|")
            if kind == "group":
                if record.value:
                    groups[name] = self._group_from_json(json.loads(record.value))
                else:
                    groups.pop(name, None)
            elif kind == "derived":
                if record.value:
                    placed[name] = record.value.decode()
                else:
                    placed.pop(name, None)
            elif kind == "definition" and record.value:
                definition = self.codec.decode(base64.b64decode(record.value))
                assert isinstance(definition, InstrumentDefined)
                contracts.define(definition)
            elif kind == "waiting":
                if record.value:
                    trade = self.codec.decode(base64.b64decode(record.value))
                    assert isinstance(trade, TradeReported)
                    waiting[name] = trade
                else:
                    waiting.pop(name, None)
        self.groups[partition] = groups
        self.placed[partition] = placed
        self.contracts[partition] = contracts
        self.waiting[partition] = waiting
        for state in (self._changed, self._moved, self._kept):
            state.pop(partition, None)

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            for state in (self.groups, self.placed, self.contracts, self.waiting, self._changed,
                          self._moved, self._kept):  # fmt: skip
                state.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            try:
                event = self.codec.decode(record.value)
            except FillstreamError:
                decoded(self.codec, record, TradeReported, batch, _STAGE)  # its dead letter
                continue
            match event:
                case TradeReported():
                    self._reported(record, event, batch)
                case TradeClosed():
                    self._derived(record.partition, event, batch)
                case InstrumentDefined():
                    self._defined(record.partition, event, batch)
                case _:
                    decoded(self.codec, record, TradeReported, batch, _STAGE)  # wrong_schema
        if records:
            metrics.EVENTS.labels(records[0].topic, "imported").inc(len(records))
        self._finish(batch)

    def _reported(self, record: Record, reported: TradeReported, batch: Batch) -> None:
        partition = record.partition
        contracts = self.contracts.setdefault(partition, ContractBook())
        try:
            point_value = contracts.spec_for(reported.instrument).point_value
        except UnknownInstrumentError:
            event_id = reported.envelope.event_id
            self.waiting.setdefault(partition, {})[event_id] = reported
            self._keep(partition, f"waiting|{event_id}", reported)
            metrics.EVENTS.labels(FEED_TOPIC, "waiting").inc()
            return
        trade = imported_trade(reported, point_value)
        key = fingerprint_of(trade)
        self._apply(partition, key, with_reported(self._group(partition, key), trade), batch)

    def _defined(self, partition: int, definition: InstrumentDefined, batch: Batch) -> None:
        contracts = self.contracts.setdefault(partition, ContractBook())
        if contracts.newest(definition.root) == definition:
            return
        contracts.define(definition)
        self._keep(partition, f"definition|{definition.envelope.event_id}", definition)
        waiting = self.waiting.get(partition, {})
        for event_id, reported in sorted(waiting.items()):
            if root_of(reported.instrument) == definition.root:
                del waiting[event_id]
                self._kept.setdefault(partition, {})[f"waiting|{event_id}"] = None
                spec = contracts.spec_for(reported.instrument)
                trade = imported_trade(reported, spec.point_value)
                key = fingerprint_of(trade)
                self._apply(partition, key, with_reported(self._group(partition, key), trade),
                            batch)  # fmt: skip

    def _keep(self, partition: int, key: str, event: InstrumentDefined | TradeReported) -> None:
        self._kept.setdefault(partition, {})[key] = base64.b64encode(self.codec.encode(event))

    def _derived(self, partition: int, trade: TradeClosed, batch: Batch) -> None:
        placed = self.placed.setdefault(partition, {})
        before = placed.get(trade.trade_id)
        key = None if trade.voided else fingerprint_of(trade)
        if before is not None and before != key:
            group = self._group(partition, before)
            self._apply(partition, before, without_derived(group, trade.trade_id), batch)
        if key is None:
            if before is not None:
                del placed[trade.trade_id]
                self._moved.setdefault(partition, set()).add(trade.trade_id)
            return
        placed[trade.trade_id] = key
        if before != key:
            self._moved.setdefault(partition, set()).add(trade.trade_id)
        self._apply(partition, key, with_derived(self._group(partition, key), derived_of(trade)),
                    batch)  # fmt: skip

    def _group(self, partition: int, key: str) -> Group:
        return self.groups.setdefault(partition, {}).get(key) or Group()

    def _apply(self, partition: int, key: str, settled: Settled, batch: Batch) -> None:
        groups = self.groups.setdefault(partition, {})
        if settled.group == groups.get(key, Group()) and not settled.published:
            return
        groups[key] = settled.group
        self._changed.setdefault(partition, set()).add(key)
        for trade in settled.published:
            batch.outputs.append(
                Output(
                    DERIVED_TRADES,
                    f"{trade.account}|{trade.instrument}".encode(),
                    self.codec.encode(trade),
                    record_headers(schema_name(trade), trade.envelope.event_id),
                )
            )
            outcome = "covered" if trade.voided else "published"
            metrics.EVENTS.labels(FEED_TOPIC, outcome).inc()
        for d in settled.differences:
            metrics.IMPORTED_DIFFERENCES.labels(d.field).inc()
            log.warning(
                "imported trade %s differs from %s, which covers it: %s %s reported, %s derived",
                d.imported, d.derived, d.field, d.reported, d.ours,
            )  # fmt: skip

    def _finish(self, batch: Batch) -> None:
        """Write each group and placement the batch changed, once."""
        for partition, keys in self._changed.items():
            groups = self.groups.get(partition, {})
            for key in sorted(keys):
                group = groups.get(key)
                value = None if group is None else json.dumps(self._group_to_json(group))
                batch.outputs.append(
                    Output(
                        self.changelog or "",
                        f"group|{key}".encode(),
                        None if value is None else value.encode(),
                        partition=partition,
                    )
                )
        self._changed.clear()
        for partition, trade_ids in self._moved.items():
            placed = self.placed.get(partition, {})
            for trade_id in sorted(trade_ids):
                at = placed.get(trade_id)
                batch.outputs.append(
                    Output(
                        self.changelog or "",
                        f"derived|{trade_id}".encode(),
                        None if at is None else at.encode(),
                        partition=partition,
                    )
                )
        self._moved.clear()
        for partition, kept in self._kept.items():
            for name, payload in kept.items():
                batch.outputs.append(
                    Output(self.changelog or "", name.encode(), payload, partition=partition)
                )
        self._kept.clear()

    def _group_to_json(self, group: Group) -> dict[str, Any]:
        return {
            "derived": {
                trade_id: [str(d.entry_price), str(d.exit_price), str(d.net_pnl)]
                for trade_id, d in sorted(group.derived.items())
            },
            "imported": {
                trade_id: base64.b64encode(self.codec.encode(trade)).decode()
                for trade_id, trade in sorted(group.imported.items())
            },
        }

    def _group_from_json(self, value: dict[str, Any]) -> Group:
        imported: dict[str, TradeClosed] = {}
        for trade_id, encoded in value["imported"].items():
            trade = self.codec.decode(base64.b64decode(encoded))
            assert isinstance(trade, TradeClosed)
            imported[trade_id] = trade
        return Group(
            derived={
                trade_id: Derived(trade_id, Decimal(entry), Decimal(exit_), Decimal(net))
                for trade_id, (entry, exit_, net) in value["derived"].items()
            },
            imported=imported,
        )
