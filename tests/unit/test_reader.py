"""The generated Avro reader against the reference (fastavro, then ``events.from_record``): the
same event, field for field and digit for digit, for every event type and for any bytes."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import EVENT_TYPES, from_record, schema_name
from schemas.reader import compile_reader
from schemas.registry import default_registry
from schemas.writer import compile_writer
from tests.unit.test_codec import EVENTS, FILL

NAMES = sorted(EVENT_TYPES)


def reference(name: str, body: bytes) -> Any:
    record = fastavro.schemaless_reader(io.BytesIO(body), default_registry().current(name), None)
    assert isinstance(record, dict)
    return from_record(EVENT_TYPES[name], record)


def generated(name: str) -> Any:
    read = compile_reader(default_registry().expanded(name), EVENT_TYPES[name])
    assert read is not None, f"{name} has no generated reader"
    return read


def body(event: Any) -> bytes:
    name = schema_name(event)
    return compile_writer(default_registry().expanded(name), name)(event)


def exactly(value: Any) -> Any:
    """``value`` with every Decimal as its text, so ``1.50`` and ``1.5`` differ."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value), tuple((f.name, exactly(getattr(value, f.name))) for f in fields))
    if isinstance(value, tuple):
        return tuple(exactly(v) for v in value)
    if isinstance(value, dict):
        return {k: exactly(v) for k, v in value.items()}
    return (type(value), value)


@pytest.mark.parametrize("name", NAMES)
def test_every_event_type_has_a_generated_reader(name: str) -> None:
    generated(name)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_generated_reader_builds_what_the_reference_builds(name: str, data: st.DataObject) -> None:
    event = data.draw(EVENTS[EVENT_TYPES[name]])
    payload = body(event)
    decoded, end = generated(name)(payload, 0)
    assert end == len(payload)
    assert exactly(decoded) == exactly(reference(name, payload))
    assert decoded == event


@given(value=st.decimals(min_value=Decimal("-1e17"), max_value=Decimal("1e17"), places=10))
def test_decimals_keep_the_schemas_scale_as_the_reference_does(value: Decimal) -> None:
    payload = body(dataclasses.replace(FILL, price=value, commission=-value))
    read = generated("fillstream.ExecutionReported")
    for _ in range(2):  # the second read comes from the reader's memory of decimals
        decoded, _ = read(payload, 0)
        assert str(decoded.price) == str(reference("fillstream.ExecutionReported", payload).price)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_damaged_payloads_raise_or_read_as_the_reference_does(
    name: str, data: st.DataObject
) -> None:
    """Any change to a payload either makes the generated reader raise (the codec then asks the
    reference, which names the fault) or reads the same as the reference: never a different
    event in silence."""
    payload = bytearray(body(data.draw(EVENTS[EVENT_TYPES[name]])))
    if payload:
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(payload) - 1))
            payload[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    damaged = bytes(payload[:cut])
    try:
        decoded, end = generated(name)(damaged, 0)
    except Exception:  # noqa: BLE001 - raising is one of the two allowed outcomes
        return
    if end != len(damaged):
        return  # the codec reads it again the reference way
    assert exactly(decoded) == exactly(reference(name, damaged))
