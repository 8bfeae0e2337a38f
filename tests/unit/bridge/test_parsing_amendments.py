"""The bridge's JSON for amended and removed executions and for instrument definitions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bridge.parsing import parse_event
from bridge.publisher import route
from core.errors import InvalidEventsError
from schemas.catalog import RAW_EXECUTIONS, RAW_INSTRUMENTS
from schemas.events import ExecutionBusted, ExecutionCorrected, InstrumentDefined, Side

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
CORRECTED = {
    "type": "execution_corrected",
    "ts_event": "2026-12-07T14:59:00Z",
    "execution_id": "E1",
    "account": "Sim101",
    "instrument": "NQ 12-26",
    "side": "buy",
    "quantity": 2,
    "price": "21000.25",
    "commission": "4.50",
    "fees": "1.20",
    "executed_at": "2026-12-07T14:30:00Z",
    "order_number": "4711",
}
INSTRUMENT = {
    "type": "instrument",
    "ts_event": "2026-12-07T14:59:00Z",
    "root": "FDAX",
    "instrument": "FDAX 12-26",
    "name": "DAX Futures",
    "tick_size": "1",
    "point_value": "25",
    "currency": "EUR",
    "exchange": "Eurex",
}


def parse(item: Mapping[str, object]) -> object:
    return parse_event(item, ts_ingested=NOW, producer="test")


def test_a_correction_carries_the_amended_execution_and_routes_behind_the_original() -> None:
    event = parse(CORRECTED)
    assert isinstance(event, ExecutionCorrected)
    assert (event.side, event.quantity, event.price) == (Side.BUY, 2, Decimal("21000.25"))
    assert event.executed_at == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    assert route(event) == (RAW_EXECUTIONS, "Sim101|NQ 12-26")


def test_a_correction_seen_twice_is_one_event_but_another_amendment_is_another() -> None:
    first = parse(CORRECTED)
    again = parse({**CORRECTED, "ts_event": "2026-12-07T15:10:00Z"})
    other = parse({**CORRECTED, "price": "21000.50"})
    assert isinstance(first, ExecutionCorrected) and isinstance(again, ExecutionCorrected)
    assert isinstance(other, ExecutionCorrected)
    assert first.envelope.event_id == again.envelope.event_id != other.envelope.event_id


def test_a_bust_is_identified_by_its_execution_alone() -> None:
    bust = {"type": "execution_busted", "execution_id": "E1", "account": "Sim101",
            "instrument": "NQ 12-26"}  # fmt: skip
    first = parse({**bust, "ts_event": "2026-12-07T15:00:00Z"})
    again = parse({**bust, "ts_event": "2026-12-07T15:05:00Z", "reason": "broker"})
    assert isinstance(first, ExecutionBusted) and isinstance(again, ExecutionBusted)
    assert first.envelope.event_id == again.envelope.event_id
    assert route(first) == (RAW_EXECUTIONS, "Sim101|NQ 12-26")


def test_an_instrument_definition_is_keyed_by_its_root() -> None:
    event = parse(INSTRUMENT)
    assert isinstance(event, InstrumentDefined)
    assert (event.tick_size, event.point_value, event.currency) == (Decimal(1), Decimal(25), "EUR")
    assert route(event) == (RAW_INSTRUMENTS, "FDAX")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("root", "fdax", "upper-case root"),
        ("root", "FDAX 12-26", "upper-case root"),
        ("currency", "Euro", "ISO 4217"),
        ("tick_size", "0", "positive"),
        ("point_value", "-25", "positive"),
    ],
)
def test_a_bad_instrument_definition_names_the_field(field: str, value: str, reason: str) -> None:
    with pytest.raises(InvalidEventsError) as raised:
        parse({**INSTRUMENT, field: value})
    (error,) = raised.value.errors
    assert error.field == field and reason in error.reason


def test_a_correction_to_a_non_positive_quantity_is_refused() -> None:
    with pytest.raises(InvalidEventsError) as raised:
        parse({**CORRECTED, "quantity": 0})
    assert [e.field for e in raised.value.errors] == ["quantity"]
