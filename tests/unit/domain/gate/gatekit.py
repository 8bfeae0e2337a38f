"""Builders for the gate's tests: proposals, closed trades, positions, bars, rules from TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.gate import GateState, Proposal, Rules, decide, parse
from domain.gate.rules import GateRulesError, Window
from schemas.events import (
    BarClosed,
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    GateAction,
    GateChanged,
    PositionChanged,
    Source,
    TradeClosed,
    TradeDecided,
    TradeId,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
"""A Tuesday, 10:00 in Chicago: within the CME session of 2026-03-10."""


def envelope(at: datetime = NOW, event_id: str = "evt") -> Envelope:
    return Envelope(event_id=EventId(event_id), ts_event=at, ts_ingested=at,
                    source=Source.LIVE, producer="test")  # fmt: skip


def proposal(**overrides: Any) -> Proposal:
    fields: dict[str, Any] = {
        "signal_id": "sig-1",
        "account": "Sim101",
        "instrument": "NQ 06-26",
        "strategy": "ORB",
        "direction": Direction.LONG,
        "entry_price": Decimal("21000"),
        "intended_stop": Decimal("20990"),
        "intended_target": Decimal("21030"),
        "confidence": 0.6,
        "quantity": 2,
    }
    fields.update(overrides)
    return Proposal(**fields)


_trades = iter(range(1, 1_000_000))


def trade(net: str, *, at: datetime = NOW - timedelta(minutes=30), **overrides: Any) -> TradeClosed:
    n = next(_trades)
    fields: dict[str, Any] = {
        "envelope": envelope(at, f"tc-{n}"),
        "trade_id": TradeId(f"t-{n}"),
        "account": "Sim101",
        "instrument": "NQ 06-26",
        "strategy": "ORB",
        "direction": Direction.LONG,
        "quantity": 1,
        "entry_time": at - timedelta(minutes=5),
        "exit_time": at,
        "entry_price": Decimal("21000"),
        "exit_price": Decimal("21000"),
        "point_value": Decimal(20),
        "currency": "USD",
        "gross_pnl": Decimal(net),
        "commission": Decimal(0),
        "net_pnl": Decimal(net),
        "execution_ids": (ExecutionId(f"x-{n}"),),
    }
    fields.update(overrides)
    return TradeClosed(**fields)


def position(quantity: int, *, sequence: int = 1, **overrides: Any) -> PositionChanged:
    fields: dict[str, Any] = {
        "envelope": envelope(NOW - timedelta(minutes=1)),
        "account": "Sim101",
        "instrument": "NQ 06-26",
        "strategy": "ORB",
        "sequence": sequence,
        "execution_id": ExecutionId(f"x-p{sequence}"),
        "quantity": quantity,
        "point_value": Decimal(20),
        "currency": "USD",
        "open_costs": Decimal(0),
        "realized_pnl": Decimal(0),
    }
    fields.update(overrides)
    return PositionChanged(**fields)


def bar(at: datetime, *, high: str = "21005", low: str = "20995", close: str = "21000",
        instrument: str = "NQ 06-26", period: str = "1 Minute") -> BarClosed:  # fmt: skip
    return BarClosed(
        envelope=envelope(at, f"bar-{at.isoformat()}"),
        instrument=instrument,
        period=period,
        open=Decimal(close),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=100,
    )


def resume(at: datetime, *, account: str | None = "Sim101", halt_id: str | None = None,
           strategy: str | None = None) -> GateChanged:  # fmt: skip
    return GateChanged(envelope=envelope(at, f"resume-{at.isoformat()}"),
                       action=GateAction.RESUMED, account=account, strategy=strategy,
                       halt_id=halt_id, actor="ops", reason="checked")  # fmt: skip


def rules(text: str, windows: Mapping[str, tuple[Window, ...]] | None = None) -> Rules:
    def blackouts(path: str) -> tuple[Window, ...]:
        if windows is None or path not in windows:
            raise GateRulesError(path, "no such file")
        return windows[path]

    return parse(tomllib.loads(text), text=text, blackouts=blackouts)


def decided(
    p: Proposal, r: Rules, state: GateState, *, at: datetime = NOW, n: int = 1
) -> TradeDecided:
    return decide(p, rules=r, state=state, envelope=envelope(at, f"dec-{n}"),
                  decision_id=f"dc-{n:032x}", as_of={})  # fmt: skip


def verdict(decision: TradeDecided, rule: str) -> tuple[str, Decimal | None, Decimal | None]:
    (found,) = [v for v in decision.rules if v.rule == rule]
    return found.verdict.value, found.value, found.limit
