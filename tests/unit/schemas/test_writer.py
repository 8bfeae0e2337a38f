"""The compiled Avro writer against fastavro, the reference: the same bytes for every event."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import CodecError
from schemas.events import EVENT_TYPES, schema_name, to_record
from schemas.registry import default_registry
from schemas.writer import compile_writer
from tests.unit.schemas.test_codec import EVENTS, FILL

NAMES = sorted(EVENT_TYPES)


def fastavro_bytes(event: Any) -> bytes:
    name = schema_name(event)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, default_registry().current(name), to_record(event))
    return out.getvalue()


def compiled_bytes(event: Any) -> bytes:
    name = schema_name(event)
    return compile_writer(default_registry().expanded(name), name)(event)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_compiled_writer_matches_fastavro_byte_for_byte(name: str, data: st.DataObject) -> None:
    event = data.draw(EVENTS[EVENT_TYPES[name]])
    assert compiled_bytes(event) == fastavro_bytes(event)


@given(value=st.decimals(min_value=Decimal("-1e17"), max_value=Decimal("1e17"), places=10))
def test_decimals_match_fastavro_including_signs_and_zero(value: Decimal) -> None:
    event = dataclasses.replace(FILL, price=value, commission=-value)
    assert compiled_bytes(event) == fastavro_bytes(event)


@given(
    values=st.lists(
        st.decimals(min_value=Decimal("-1e17"), max_value=Decimal("1e17"), places=10), max_size=20
    )
)
def test_a_writer_writes_decimals_it_has_seen_as_fastavro_does(values: list[Decimal]) -> None:
    write = compile_writer(default_registry().expanded("fillstream.ExecutionReported"), "x")
    for value in [*values, *values, *(v.normalize() for v in values)]:
        event = dataclasses.replace(FILL, price=value, commission=-value)
        assert write(event) == fastavro_bytes(event)


def test_a_decimal_seen_before_is_checked_again_in_another_form() -> None:
    write = compile_writer(default_registry().expanded("fillstream.ExecutionReported"), "x")
    write(dataclasses.replace(FILL, price=Decimal("1.5")))
    with pytest.raises(CodecError, match="11 fractional digits"):
        write(dataclasses.replace(FILL, price=Decimal("1.50000000000")))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": True}, r"ExecutionReported\.quantity: True is not an int"),
        ({"quantity": 1.0}, r"ExecutionReported\.quantity: 1\.0 is not an int"),
        ({"account": None}, r"ExecutionReported\.account: None is not a string"),
        ({"order_id": 7}, r"ExecutionReported\.order_id: 7 is not a string"),
        ({"side": "hold"}, r"ExecutionReported\.side: 'hold' is not one of unknown, buy, sell"),
        ({"price": 21000.25}, r"ExecutionReported\.price: 21000\.25 is not a finite Decimal"),
        ({"price": Decimal("NaN")}, r"ExecutionReported\.price: Decimal\('NaN'\) is not a finite"),
    ],
)
def test_type_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        compiled_bytes(dataclasses.replace(FILL, **change))


def test_naive_datetimes_are_refused() -> None:
    envelope = dataclasses.replace(
        FILL.envelope, ts_event=FILL.envelope.ts_event.replace(tzinfo=None)
    )
    with pytest.raises(CodecError, match=r"envelope\.ts_event: .* not a timezone-aware datetime"):
        compiled_bytes(dataclasses.replace(FILL, envelope=envelope))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_one_writer_over_many_events_matches_fastavro(name: str, data: st.DataObject) -> None:
    """One writer for many events, as an import uses it: the last timestamp and decimal it wrote
    are remembered, and an event repeated (the same objects again) must still be right."""
    write = compile_writer(default_registry().expanded(name), name)
    events = data.draw(st.lists(EVENTS[EVENT_TYPES[name]], min_size=1, max_size=5))
    for event in [*events, *reversed(events)]:
        assert write(event) == fastavro_bytes(event)


def test_records_given_as_mappings_are_written_too() -> None:
    write = compile_writer(default_registry().expanded(schema_name(FILL)), schema_name(FILL))
    assert write(dataclasses.asdict(FILL)) == write(FILL) == fastavro_bytes(FILL)


def test_a_misfit_after_a_remembered_field_is_still_named() -> None:
    write = compile_writer(default_registry().expanded(schema_name(FILL)), schema_name(FILL))
    assert write(FILL) == fastavro_bytes(FILL)
    with pytest.raises(CodecError, match=r"ExecutionReported\.quantity: True is not an int"):
        write(dataclasses.replace(FILL, quantity=True))
    assert write(FILL) == fastavro_bytes(FILL)
