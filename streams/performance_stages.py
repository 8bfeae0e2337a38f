"""The performance stages: closed trades → per-scope ledgers → ``PerformanceSnapshot`` events.

Two ``streams.deriver`` stages, because a scope (an account, a strategy) gathers the trades of
several positions, which ``derived.trades`` spreads over its partitions:

1. ``ScopeTrades`` reads ``derived.trades`` and re-publishes each trade once per scope it counts
   in (``streams.snapshots.scopes_of``) on ``streams-performance-scopes``, keyed by the scope's
   name, so all of a scope's trades reach one partition and one worker.
2. ``ScoreTrades`` reads that topic and keeps one ``Ledger`` per scope. A trade not yet in its
   ledger is added and written to the ``streams-ledgers-changelog``; the snapshots of the windows
   it is in are published to ``derived.performance``, once per window and batch (a snapshot is
   the whole figure set, so the ones in between would add nothing). A trade already in its
   ledger (a redelivery) changes nothing.

A record that is not a ``TradeClosed`` goes to the dead-letter topic with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fillstream.settings import Settings
from schemas.catalog import record_headers
from schemas.codec import Codec
from schemas.events import TradeClosed, schema_name
from streams import metrics
from streams.deriver import Batch, Output, Record, dead_letter, decoded
from streams.ledger import Ledger
from streams.performance import TradeResult
from streams.snapshots import Scope, scopes_of, snapshots

SCOPES_TOPIC = "streams-performance-scopes"
LEDGERS_TOPIC = "streams-ledgers-changelog"
SNAPSHOTS_TOPIC = "derived.performance"


class ScopeTrades:
    """Stage 1: each trade once per scope it counts in."""

    name = "scopes"
    source = "derived.trades"
    changelog: str | None = None

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        pass

    def forget(self, partitions: Sequence[int]) -> None:
        pass

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        for record in records:
            trade = decoded(self.codec, record, TradeClosed, batch, "streams.scopes")
            if trade is None:
                continue
            schema = ("schema", schema_name(trade).encode())
            for scope in scopes_of(trade):
                batch.outputs.append(
                    Output(SCOPES_TOPIC, scope.name.encode(), record.value, (schema,))
                )


class ScoreTrades:
    """Stage 2: the ledgers and their snapshots."""

    name = "performance"
    source = SCOPES_TOPIC
    changelog: str | None = LEDGERS_TOPIC

    def __init__(self, codec: Codec, *, rolling: int) -> None:
        self.codec = codec
        self.rolling = rolling
        self.ledgers: dict[int, dict[str, Ledger]] = {}
        """Source partition → scope name → ledger."""

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> ScoreTrades:
        return cls(codec, rolling=settings.rolling_trades)

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        ledgers: dict[str, Ledger] = {}
        for record in records:
            if record.value:
                row = json.loads(record.value)
                ledgers.setdefault(row["scope"], Ledger()).add(result_from_json(row))
        self.ledgers[partition] = ledgers

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.ledgers.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        touched: dict[str, tuple[Scope, Ledger, set[date]]] = {}
        for record in records:
            trade = decoded(self.codec, record, TradeClosed, batch, "streams.performance")
            if trade is None:
                continue
            name = (record.key or b"").decode(errors="replace")
            scope = next((s for s in scopes_of(trade) if s.name == name), None)
            if scope is None:
                batch.outputs.append(
                    dead_letter(
                        record,
                        f"trade {trade.trade_id} does not count in scope {name!r}",
                        "wrong_scope",
                        "streams.performance",
                    )
                )
                continue
            result = TradeResult.of(trade)
            ledger = self.ledgers.setdefault(record.partition, {}).setdefault(name, Ledger())
            if not ledger.add(result):
                metrics.EVENTS.labels(record.topic, "duplicate").inc()
                continue
            batch.outputs.append(
                Output(
                    LEDGERS_TOPIC,
                    f"{name}|{trade.trade_id}".encode(),
                    json.dumps(result_to_json(name, result)).encode(),
                    partition=record.partition,
                )
            )
            touched.setdefault(name, (scope, ledger, set()))[2].add(result.trading_day)
            metrics.EVENTS.labels(record.topic, "scored").inc()
        # one snapshot per changed window and batch: each is the whole figure set
        for name, (scope, ledger, days) in touched.items():
            for s in snapshots(scope, ledger, days, rolling=self.rolling):
                batch.outputs.append(
                    Output(
                        SNAPSHOTS_TOPIC,
                        f"{name}|{s.window.value}|{s.window_key}".encode(),
                        self.codec.encode(s),
                        record_headers(schema_name(s), s.envelope.event_id),
                    )
                )
                metrics.SNAPSHOTS.inc()


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
    }


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
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
