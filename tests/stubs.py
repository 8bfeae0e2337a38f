"""Builders of test events with sensible defaults: ``stubs.execution(price=Decimal("21000.25"))``.

Every call gets fresh ids (``exec-000001``, ``evt-000001``) and a later ``ts_event``, so
events built in sequence look like a real stream. Envelope fields (``event_id``, ``ts_event``,
``ts_ingested``, ``source``, ``producer``, ``causation_ids``) can be overridden directly, or
pass a whole ``envelope``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.events import (
    BarClosed,
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    Side,
    SignalEmitted,
    SignalId,
    Source,
)

BASE_TIME = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
"""``ts_event`` of the first built event; each later one is a second after the previous."""

INGEST_DELAY = timedelta(milliseconds=50)

_ENVELOPE_FIELDS = ("event_id", "ts_event", "ts_ingested", "source", "producer", "causation_ids")
_counter = itertools.count(1)


def envelope(**overrides: Any) -> Envelope:
    """An envelope with a fresh ``event_id`` and a ``ts_event`` later than the last one's."""
    return _envelope(next(_counter), overrides)


def _envelope(n: int, overrides: dict[str, Any]) -> Envelope:
    ts_event = overrides.pop("ts_event", BASE_TIME + timedelta(seconds=n))
    fields: dict[str, Any] = {
        "event_id": EventId(f"evt-{n:06d}"),
        "ts_event": ts_event,
        "ts_ingested": ts_event + INGEST_DELAY,
        "source": Source.LIVE,
        "producer": "tests/stubs",
        "causation_ids": (),
    }
    fields.update(overrides)
    return Envelope(**fields)


def execution(**overrides: Any) -> ExecutionReported:
    """A Sim101 buy of 1 NQ at 21000.00 with $2.09 commission, fresh ids and a later time."""
    n = next(_counter)
    env_overrides = {k: overrides.pop(k) for k in _ENVELOPE_FIELDS if k in overrides}
    given = overrides.pop("envelope", None)
    env = replace(given, **env_overrides) if given else _envelope(n, env_overrides)
    fields: dict[str, Any] = {
        "envelope": env,
        "execution_id": ExecutionId(f"exec-{n:06d}"),
        "account": "Sim101",
        "instrument": "NQ 12-26",
        "side": Side.BUY,
        "quantity": 1,
        "price": Decimal("21000.00"),
        "commission": Decimal("2.09"),
        "fees": Decimal("0"),
    }
    fields.update(overrides)
    return ExecutionReported(**fields)


def buy(
    quantity: int = 1, price: str | Decimal = "21000.00", **overrides: Any
) -> ExecutionReported:
    """``execution`` on the buy side; ``price`` may be a string."""
    return execution(side=Side.BUY, quantity=quantity, price=Decimal(price), **overrides)


def sell(
    quantity: int = 1, price: str | Decimal = "21000.00", **overrides: Any
) -> ExecutionReported:
    """``execution`` on the sell side; ``price`` may be a string."""
    return execution(side=Side.SELL, quantity=quantity, price=Decimal(price), **overrides)


def bar(
    close_time: datetime,
    high: str,
    low: str,
    *,
    instrument: str = "NQ 12-26",
    period: str = "1 Minute",
    ingested: datetime | None = None,
) -> BarClosed:
    """A bar of ``instrument`` that closed at ``close_time``, recorded ``INGEST_DELAY`` later
    unless ``ingested`` says when."""
    env = _envelope(
        next(_counter),
        {"ts_event": close_time, "ts_ingested": ingested or close_time + INGEST_DELAY},
    )
    mid = (Decimal(high) + Decimal(low)) / 2
    return BarClosed(
        envelope=env,
        instrument=instrument,
        period=period,
        open=mid,
        high=Decimal(high),
        low=Decimal(low),
        close=mid,
        volume=100,
    )


def signal(
    signal_id: str, stop: str | None, *, at: datetime, instrument: str = "NQ 12-26"
) -> SignalEmitted:
    """A long signal with intended stop ``stop``, emitted at ``at``."""
    env = _envelope(next(_counter), {"ts_event": at, "ts_ingested": at + INGEST_DELAY})
    return SignalEmitted(
        envelope=env,
        signal_id=SignalId(signal_id),
        account="Sim101",
        instrument=instrument,
        strategy="Breakout",
        direction=Direction.LONG,
        intended_stop=None if stop is None else Decimal(stop),
    )
