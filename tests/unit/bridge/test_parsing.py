"""The bridge's JSON → event validation: exact numbers, every bad field named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.parsing import EVENT_CLASSES, loads, parse_event, parse_events
from core.errors import InvalidEventError, InvalidEventsError
from fillstream.demo import generate_session
from schemas.codec import default_codec
from schemas.events import ExecutionBusted, ExecutionReported, GateChanged, Side, Source

NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)


def execution(**overrides: Any) -> dict[str, Any]:
    event = {
        "type": "execution", "ts_event": "2026-09-22T13:35:12.123456Z", "execution_id": "e-1",
        "account": "Sim101", "instrument": "NQ 12-26", "side": "buy", "quantity": 1,
        "price": "21000.25", "commission": "2.09", "fees": "0",
    }  # fmt: skip
    event.update(overrides)
    return event


def errors_of(document: Any) -> dict[str, str]:
    with pytest.raises(InvalidEventsError) as caught:
        parse_events(document, ts_ingested=NOW, producer="tests")
    return {e.field: e.reason for e in caught.value.errors}


def test_a_valid_execution_becomes_an_event_with_exact_money() -> None:
    body = (
        b'{"type": "execution", "ts_event": "2026-09-22T09:35:12-04:00", "execution_id": "e-1",'
        b' "account": "Sim101", "instrument": "NQ 12-26", "side": "Sell", "quantity": 2,'
        b' "price": 21000.1, "commission": 4.18, "fees": "0.04", "strategy": "Breakout"}'
    )
    event = parse_event(loads(body), ts_ingested=NOW, producer="tests")
    assert isinstance(event, ExecutionReported)
    assert event.price == Decimal("21000.1") and str(event.price) == "21000.1"  # never via float
    assert event.commission == Decimal("4.18") and event.fees == Decimal("0.04")
    assert event.side is Side.SELL and event.quantity == 2 and event.strategy == "Breakout"
    assert event.envelope.ts_event == datetime(2026, 9, 22, 13, 35, 12, tzinfo=UTC)
    assert event.envelope.ts_ingested == NOW and event.envelope.source is Source.LIVE


def test_every_bad_field_is_named_with_its_reason() -> None:
    bad = execution(price="-1.5", quantity=True, side="hold", commission="1.12345678901", bogus=1)
    del bad["account"]
    assert errors_of(bad) == {
        "account": "is required",
        "price": "must be positive, was -1.5",
        "quantity": "must be an integer, was True",
        "side": "must be one of buy, sell, was 'hold'",
        "commission": "has more than 10 decimal places, was '1.12345678901'",
        "bogus": "is not a field of a execution event",
    }


def test_a_batch_is_all_or_nothing_and_names_the_index() -> None:
    assert errors_of([execution(), execution(execution_id="e-2", ts_event="2026-09-22 13:35")]) == {
        "[1].ts_event": "must carry a UTC offset or Z, was '2026-09-22 13:35'"
    }
    assert errors_of([]) == {"body": "is an empty array"}


@pytest.mark.parametrize(
    ("document", "field"),
    [({"type": "teleport"}, "type"), ([1], "[0].event"), ({"type": None}, "type")],
)
def test_unknown_types_and_non_objects(document: Any, field: str) -> None:
    assert field in errors_of(document)


def test_malformed_json_names_the_body() -> None:
    with pytest.raises(InvalidEventError) as caught:
        loads(b'{"type": ')
    assert caught.value.field == "body"


def test_execution_ids_are_deterministic_per_account_and_fill() -> None:
    a = parse_event(execution(), ts_ingested=NOW, producer="tests")
    resent = parse_event(execution(price="21000.2500", ts_event="2026-09-22T13:35:13Z"),
                         ts_ingested=NOW + timedelta(minutes=5), producer="tests")  # fmt: skip
    other_account = parse_event(execution(account="Sim102"), ts_ingested=NOW, producer="tests")
    assert a.envelope.event_id == resent.envelope.event_id
    assert a.envelope.event_id != other_account.envelope.event_id


def test_offsets_are_converted_to_utc() -> None:
    event = parse_event(
        execution(ts_event="2026-09-22T15:35:12+02:00"), ts_ingested=NOW, producer="t"
    )
    assert event.envelope.ts_event == datetime(2026, 9, 22, 13, 35, 12, tzinfo=UTC)
    assert event.envelope.ts_event.tzinfo is not None
    assert event.envelope.ts_event.utcoffset() == UTC.utcoffset(None)


def test_every_demo_event_parses_and_encodes() -> None:
    events = parse_events(generate_session(seed=3, minutes=60), ts_ingested=NOW, producer="t")
    codec = default_codec()
    # every kind but a bust, which would take a fill back out of the demo's trades, and a
    # flattening, which only follows a gate halt (the AddOn's golden files have both, parsed in
    # test_ninjatrader)
    assert {type(e) for e in events} == set(EVENT_CLASSES.values()) - {ExecutionBusted, GateChanged}
    assert all(codec.decode(codec.encode(e)) == e for e in events)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(sorted(execution()) + ["bogus"]), json_values))
def test_arbitrary_fields_give_a_clear_error_or_an_event(overrides: dict[str, Any]) -> None:
    try:
        event = parse_event(execution(**overrides), ts_ingested=NOW, producer="tests")
    except InvalidEventsError as e:
        assert e.errors and all(err.field and err.reason for err in e.errors)
    else:
        assert default_codec().decode(default_codec().encode(event)) == event


@given(json_values)
def test_any_json_document_gives_a_clear_error_or_events(document: Any) -> None:
    try:
        parse_events(document, ts_ingested=NOW, producer="tests")
    except InvalidEventsError as e:
        assert all(err.field and err.reason for err in e.errors)


@given(
    price=st.decimals(min_value=Decimal("0.0000000001"), max_value=Decimal("99999999"), places=10),
    quantity=st.integers(min_value=1, max_value=10_000),
)
def test_valid_prices_survive_json_and_avro_exactly(price: Decimal, quantity: int) -> None:
    text = f'{{"type": "execution", "ts_event": "2026-09-22T13:35:12Z", "execution_id": "e",' \
           f' "account": "A", "instrument": "ES", "side": "buy", "quantity": {quantity},' \
           f' "price": {price}, "commission": "0", "fees": "0"}}'  # fmt: skip
    event = parse_event(loads(text), ts_ingested=NOW, producer="tests")
    assert isinstance(event, ExecutionReported)
    decoded = default_codec().decode(default_codec().encode(event))
    assert isinstance(decoded, ExecutionReported)
    assert decoded.price == price and decoded.quantity == quantity
