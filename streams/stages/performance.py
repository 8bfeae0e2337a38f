"""The performance stages: closed trades → per-scope ledgers → ``PerformanceSnapshot`` events.

Two ``runtime.deriver`` stages, because a scope (an account, a strategy) gathers the trades of
several positions, which ``derived.trades`` spreads over its partitions:

1. ``ScopeTrades`` reads ``derived.trades`` and publishes each trade once per scope it counts
   in (``snapshots.scopes_of``) on ``streams-performance-scopes``, keyed by the scope's
   name, so all of a scope's trades reach one partition and one worker. What it publishes is a
   *scoped trade row*: the scope and what the figures need of the trade (``TradeResult``), as
   JSON (``scoped_row``), a fraction of the Avro ``TradeClosed`` to decode.
2. ``ScoreTrades`` reads that topic and keeps one ``Ledger`` per scope. A trade not yet in its
   ledger is added and its row, as it came, written to the ``streams-ledgers-changelog``; the
   snapshots of the windows it is in are published to ``derived.performance``, once per window
   and batch (a snapshot is the whole figure set, so the ones in between would add nothing). A
   trade already in its ledger (a redelivery) changes nothing. Records written before the rows
   (an Avro ``TradeClosed``, recognised by the single-object marker) are still scored.

Corrections: a trade's later ``revision`` replaces the one its ledger counts (the row carries
``revision`` and ``voided``), and a voided one leaves it; its row replaces the trade's in the
changelog (same key), so a restored ledger counts the latest revisions alone. The snapshots of
the windows the old and the new revision are in follow, and are then those of a ledger given
the corrected trades in the first place. A window a void leaves empty gets a snapshot of no
trades. ``scope_trades`` is the ledger's ``changes``, which grows with every revision and void
too, so the performance projection keeps the later snapshot. A revision counts in the scopes
it names: one naming another strategy or variant than the trade's first (not something a
correction of executions does) would leave the first in the old scope.

A record that is neither goes to the dead-letter topic with its reason (``undecodable``,
``wrong_schema``), as does a row or trade for a scope its key does not name (``wrong_scope``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.settings import Settings
from domain.performance.figures import TradeResult
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, scopes_of, snapshots
from schemas.catalog import (
    DERIVED_PERFORMANCE,
    DERIVED_TRADES,
    STREAMS_LEDGERS_CHANGELOG,
    STREAMS_PERFORMANCE_SCOPES,
    record_headers,
)
from schemas.codec import MARKER, Codec
from schemas.events import MetricScope, TradeClosed, schema_name
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record, Stateless, dead_letter, decoded

SCOPES_TOPIC = STREAMS_PERFORMANCE_SCOPES
LEDGERS_TOPIC = STREAMS_LEDGERS_CHANGELOG
SNAPSHOTS_TOPIC = DERIVED_PERFORMANCE

SUPERSEDES = "supersedes"
"""Header of a snapshot record: ``<definitions version>:<scope trades>``. Of the snapshots of
one key and definitions version, the one with the most scope trades supersedes the others, so a
reader can skip those without decoding them (the performance projection does)."""
_PERFORMANCE = "streams.performance"


class ScopeTrades(Stateless):
    """Stage 1: each trade once per scope it counts in, as a scoped trade row."""

    name = "scopes"
    source = DERIVED_TRADES

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            trade = decoded(self.codec, record, TradeClosed, batch, "streams.scopes")
            if trade is None:
                continue
            result = TradeResult.of(trade)
            for scope in scopes_of(trade):
                row = scoped_row(scope, result, revision=trade.revision, voided=trade.voided)
                batch.outputs.append(Output(SCOPES_TOPIC, scope.name.encode(), row))


class ScoreTrades:
    """Stage 2: the ledgers and their snapshots."""

    name = "performance"
    source = SCOPES_TOPIC
    changelog: str | None = LEDGERS_TOPIC

    def __init__(
        self,
        codec: Codec,
        *,
        rolling: int,
        capital: Callable[[str], Decimal | None] = lambda account: None,
    ) -> None:
        """``capital`` gives an account's starting capital (``FILLSTREAM_CAPITAL``): every
        scope of the account measures its drawdown as a share of equity from it."""
        self.codec = codec
        self.rolling = rolling
        self.capital = capital
        self.ledgers: dict[int, dict[str, Ledger]] = {}
        """Source partition → scope name → ledger."""

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> ScoreTrades:
        return cls(codec, rolling=settings.rolling_trades, capital=settings.capital_of)

    def _ledger(self, scope_name: str) -> Ledger:
        """A new ledger for ``kind:account[|...]``, with its account's capital."""
        account = scope_name.partition(":")[2].split("|", 1)[0]
        return Ledger(self.capital(account))

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        ledgers: dict[str, Ledger] = {}
        for record in records:
            if record.value:
                row = json.loads(record.value)
                ledger = ledgers.get(row["scope"])
                if ledger is None:
                    ledger = ledgers[row["scope"]] = self._ledger(row["scope"])
                _count(ledger, result_from_json(row), *revision_from_json(row))
        self.ledgers[partition] = ledgers

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.ledgers.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        touched: dict[str, tuple[Scope, Ledger, set[date], list[datetime]]] = {}
        scored = duplicates = 0
        for record in records:
            read = self._read(record, batch)
            if read is None:
                continue
            scope, result, row, (revision, voided) = read
            name = scope.name
            ledgers = self.ledgers.setdefault(record.partition, {})
            ledger = ledgers.get(name)
            if ledger is None:
                ledger = ledgers[name] = self._ledger(name)
            changed = _count(ledger, result, revision, voided)
            if changed is None:
                duplicates += 1
                continue
            batch.outputs.append(
                Output(
                    LEDGERS_TOPIC,
                    f"{name}|{result.trade_id}".encode(),
                    row,
                    partition=record.partition,
                )
            )
            if changed:
                scope_days, moments = touched.setdefault(name, (scope, ledger, set(), []))[2:]
                scope_days.update(changed)
                moments.append(result.exit_time)
            scored += 1
        if records:
            metrics.EVENTS.labels(records[0].topic, "scored").inc(scored)
            metrics.EVENTS.labels(records[0].topic, "duplicate").inc(duplicates)
        # one snapshot per changed window and batch: each is the whole figure set
        emitted = 0
        for name, (scope, ledger, days, moments) in touched.items():
            for s in snapshots(scope, ledger, days, rolling=self.rolling, at=max(moments)):
                batch.outputs.append(
                    Output(
                        SNAPSHOTS_TOPIC,
                        f"{name}|{s.window.value}|{s.window_key}".encode(),
                        self.codec.encode(s),
                        (
                            *record_headers(schema_name(s), s.envelope.event_id),
                            (SUPERSEDES, f"{s.definitions_version}:{s.scope_trades}".encode()),
                        ),
                    )
                )
                emitted += 1
        metrics.SNAPSHOTS.inc(emitted)

    def _read(
        self, record: Record, batch: Batch
    ) -> tuple[Scope, TradeResult, bytes, tuple[int, bool]] | None:
        """The scope, trade and ledger row of a scoped record; None (and its dead letter in
        ``batch``) for one that does not read or names another scope than its key."""
        name = (record.key or b"").decode(errors="replace")
        if record.value[: len(MARKER)] == MARKER:  # a TradeClosed, from before the rows
            trade = decoded(self.codec, record, TradeClosed, batch, _PERFORMANCE)
            if trade is None:
                return None
            scope = next((s for s in scopes_of(trade) if s.name == name), None)
            if scope is None:
                reason = f"trade {trade.trade_id} does not count in scope {name!r}"
                batch.outputs.append(dead_letter(record, reason, "wrong_scope", _PERFORMANCE))
                return None
            result = TradeResult.of(trade)
            revision = trade.revision, trade.voided
            row = scoped_row(scope, result, revision=trade.revision, voided=trade.voided)
            return scope, result, row, revision
        try:
            row = json.loads(record.value)
            scope, result = scope_from_json(row), result_from_json(row)
            revision = revision_from_json(row)
        except (ValueError, TypeError, KeyError, ArithmeticError) as e:
            reason = f"not a scoped trade row ({type(e).__name__}: {e})"
            batch.outputs.append(dead_letter(record, reason, "undecodable", _PERFORMANCE))
            return None
        if scope.name != name:
            reason = f"trade {result.trade_id} is scored in {scope.name!r}, not in {name!r}"
            batch.outputs.append(dead_letter(record, reason, "wrong_scope", _PERFORMANCE))
            return None
        return scope, result, record.value, revision


def _count(
    ledger: Ledger, result: TradeResult, revision: int, voided: bool
) -> frozenset[date] | None:
    """Count ``revision`` of ``result`` in ``ledger`` (``Ledger.revise``, ``Ledger.void``)."""
    if voided:
        return ledger.void(result.trade_id, revision)
    return ledger.revise(result, revision)


def scoped_row(
    scope: Scope, result: TradeResult, *, revision: int = 0, voided: bool = False
) -> bytes:
    """The record of ``result`` in ``scope`` on ``streams-performance-scopes``, and its ledger
    row: ``result_to_json`` with the scope's parts and the trade's revision (``revision`` and
    ``voided`` are left out of a first revision's row, as rows were before corrections)."""
    row = result_to_json(scope.name, result)
    if revision or voided:
        row["revision"] = revision
        row["voided"] = voided
    row["account"] = scope.account
    row["strategy"] = scope.strategy
    row["variant"] = scope.variant
    row["instrument"] = scope.instrument
    return json.dumps(row).encode()


def scope_from_json(row: dict[str, Any]) -> Scope:
    """The scope of a ``scoped_row``."""
    kind, _, key = row["scope"].partition(":")
    return Scope(
        kind=MetricScope(kind),
        key=key,
        account=row["account"],
        strategy=row["strategy"],
        variant=row["variant"],
        instrument=row["instrument"],
    )


def result_to_json(scope: str, result: TradeResult) -> dict[str, Any]:
    """A ledger row: the scope and what the figures need of one trade (JSON-safe)."""
    return {
        "scope": scope,
        "trade_id": result.trade_id,
        "exit_time": result.exit_time.isoformat(),
        "net": str(result.net),
        "gross": str(result.gross),
        "mae": _text(result.mae),
        "mfe": _text(result.mfe),
        "risk": _text(result.risk),
        "currency": result.currency,
        "ts_ingested": None if result.ts_ingested is None else result.ts_ingested.isoformat(),
        "imported": result.imported,
    }


def revision_from_json(data: dict[str, Any]) -> tuple[int, bool]:
    """The revision of a row's trade and whether it is voided (0 and False when not given)."""
    revision, voided = data.get("revision", 0), data.get("voided", False)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise ValueError(f"revision: must be a whole number from 0, was {revision!r}")
    if not isinstance(voided, bool):
        raise ValueError(f"voided: must be true or false, was {voided!r}")
    return revision, voided


def result_from_json(data: dict[str, Any]) -> TradeResult:
    """The trade ``result_to_json`` stored."""
    ingested = data.get("ts_ingested")
    return TradeResult(
        trade_id=data["trade_id"],
        exit_time=datetime.fromisoformat(data["exit_time"]),
        net=Decimal(data["net"]),
        gross=Decimal(data["gross"]),
        mae=_decimal(data.get("mae")),
        mfe=_decimal(data.get("mfe")),
        risk=_decimal(data.get("risk")),
        currency=data.get("currency"),
        ts_ingested=None if ingested is None else datetime.fromisoformat(ingested),
        imported=data.get("imported", False) is True,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
