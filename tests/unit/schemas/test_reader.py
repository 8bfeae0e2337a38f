"""The generated Avro reader against the reference (fastavro, then ``events.from_record``): the
same event, field for field and digit for digit, for every event type and for any bytes. And
the generated row readers of the projections with row specs against the event's ``to_rows``."""

from __future__ import annotations

import dataclasses
import io
import types
import typing
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections import TRADES
from projections.orders import EXECUTION_ROW
from projections.positions import BAR_ROW
from projections.projection import Location, RowSpec
from projections.projector import trim_scale
from projections.trades import TRADE_ROW
from schemas.codec import default_codec
from schemas.events import EVENT_TYPES, TradeClosed, from_record, schema_name
from schemas.reader import CellForms, array_literal, compile_reader, compile_row_reader
from schemas.registry import default_registry
from schemas.writer import compile_writer
from tests.fixtures.bulk import trades as bench_trades
from tests.unit.schemas.test_codec import EVENTS, FILL

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


# Row readers: straight from a payload into a projection's row.

ROWS = {"trades": TRADE_ROW, "executions": EXECUTION_ROW, "market_bars": BAR_ROW}


_READERS: dict[tuple[str, bool], Any] = {}
"""Compiled once per projection and form (compiling within an example made its time vary past
hypothesis' deadline)."""


def row_reader(spec: RowSpec, forms: CellForms | None = None) -> Any:
    """The generated reader of ``spec``'s rows: as read, or in the database's ``forms`` (which
    are always ``database_forms(spec)``)."""
    name = schema_name_of(spec.event)
    key = (name, forms is not None)
    if key not in _READERS:
        schema = default_registry().expanded(name)
        read = compile_row_reader(schema, spec.event, spec.cell_names, forms or CellForms())
        assert read is not None, f"{name} has no generated row reader"
        _READERS[key] = read
    return _READERS[key]


def schema_name_of(cls: type[Any]) -> str:
    (name,) = (n for n, c in EVENT_TYPES.items() if c is cls)
    return name


def database_forms(spec: RowSpec) -> CellForms:
    """The forms the projector asks for: every decimal trimmed, every array a literal."""
    decimals, arrays = set(), set()
    for n, cell in enumerate(spec.cell_names):
        if cell.startswith("@") or cell.endswith(":interval"):
            continue
        hint: Any = spec.event
        for part in cell.split("."):
            hint = typing.get_type_hints(hint)[part]
        if isinstance(hint, types.UnionType):  # X | None
            (hint,) = (a for a in typing.get_args(hint) if a is not type(None))
        if hint is Decimal:
            decimals.add(n)
        elif typing.get_origin(hint) is tuple:
            arrays.add(n)
    return CellForms(trim=trim_scale, trimmed=frozenset(decimals), literal=frozenset(arrays))


@pytest.mark.parametrize("projection", sorted(ROWS))
@given(data=st.data())
def test_a_row_reader_reads_the_row_to_rows_makes_of_the_event(
    projection: str, data: st.DataObject
) -> None:
    spec = ROWS[projection]
    event = data.draw(EVENTS[spec.event])
    payload = body(event)
    where = Location("derived.x", data.draw(st.integers(0, 99)), data.draw(st.integers(0, 2**40)))
    (expected,) = spec.to_rows(reference(schema_name_of(spec.event), payload), where)
    row, end = row_reader(spec)(payload, 0, *where)
    assert end == len(payload)
    assert exactly(row) == exactly(tuple(expected))
    # in the database's forms: decimals trimmed, arrays as literals
    forms = database_forms(spec)
    assert forms.trimmed and (forms.literal or projection != "trades")
    shaped, _ = row_reader(spec, forms)(payload, 0, *where)
    for n, (value, cell) in enumerate(zip(expected, shaped, strict=True)):
        if n in forms.trimmed and value is not None:
            assert exactly(cell) == exactly(trim_scale(value))
        elif n in forms.literal:
            assert cell == array_literal(value)
        else:
            assert exactly(cell) == exactly(value)


@pytest.mark.parametrize("projection", sorted(ROWS))
@given(data=st.data())
def test_a_row_reader_raises_on_damage_or_reads_what_the_reference_reads(
    projection: str, data: st.DataObject
) -> None:
    spec = ROWS[projection]
    name = schema_name_of(spec.event)
    payload = bytearray(body(data.draw(EVENTS[spec.event])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at] = data.draw(st.integers(0, 255))
    damaged = bytes(payload[: data.draw(st.integers(0, len(payload)))])
    where = Location("derived.x", 0, 7)
    try:
        row, end = row_reader(spec)(damaged, 0, *where)
    except Exception:  # noqa: BLE001 - raising is one of the two allowed outcomes
        return
    if end != len(damaged):
        return  # the codec reads it again the reference way
    (expected,) = spec.to_rows(reference(name, damaged), where)
    assert exactly(row) == exactly(tuple(expected))


def test_the_codec_reads_rows_only_of_its_own_type_and_schema() -> None:
    codec = default_codec()
    read = codec.row_reader(TradeClosed, TRADE_ROW.cell_names, CellForms())
    assert read is not None
    trade = next(bench_trades(1))
    (expected,) = TRADE_ROW.to_rows(trade, Location("t", 1, 2))
    assert read(codec.encode(trade), "t", 1, 2) == expected
    assert read(codec.encode(FILL), "t", 1, 2) is None  # another type: decode it
    assert read(codec.encode(trade) + b"\x00", "t", 1, 2) is None  # not read to its end
    assert read(codec.encode(trade)[:-3], "t", 1, 2) is None  # truncated


def test_cells_must_name_fields() -> None:
    schema = default_registry().expanded("fillstream.TradeClosed")
    with pytest.raises(ValueError, match="TradeClosed has no field 'price'"):
        compile_row_reader(schema, TradeClosed, ["price"])
    with pytest.raises(ValueError, match="Envelope has no field 'id'"):
        compile_row_reader(schema, TradeClosed, ["envelope.id"])
    with pytest.raises(ValueError, match="unknown conversion 'seconds'"):
        compile_row_reader(schema, TradeClosed, ["duration_micros:seconds"])
    with pytest.raises(ValueError, match="set row=None"):
        dataclasses.replace(TRADES, to_rows=lambda event, where: ())
    dataclasses.replace(TRADES, to_rows=lambda event, where: (), row=None)  # made another way


@pytest.mark.parametrize(
    ("items", "literal"),
    [
        ([], "{}"),
        (["a", "b"], '{"a","b"}'),
        (['say "hi"', "back\\slash", None], '{"say \\"hi\\"","back\\\\slash",NULL}'),
    ],
)
def test_array_literals(items: list[str | None], literal: str) -> None:
    assert array_literal(items) == literal
