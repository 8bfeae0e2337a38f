"""Schema evolution: released versions and the current schemas read each other's data, schema
conventions hold, the avro package decodes our bodies like fastavro, and the release tool refuses
incompatible changes."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import EVENT_TYPES, default_codec, default_registry, from_record
from schemas.registry import SCHEMAS_DIR, SchemaRegistry, canonical_form
from schemas.release import incompatibilities, pending_releases, write_release

NAMES = sorted(EVENT_TYPES)
RELEASED = [(name, version) for name in NAMES for version, _ in default_registry().released(name)]

# -- records generated from an Avro schema ---------------------------------------------------------

PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "long": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=False, width=32),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=16),
    "string": st.text(max_size=20),
}
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    bound = 10 ** (precision - scale) - 1
    return st.integers(min_value=0, max_value=scale).flatmap(
        lambda places: st.decimals(min_value=-bound, max_value=bound, places=places)
    )


def records(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values of an expanded schema; named types are resolved in definition order."""
    named = {} if named is None else named
    if isinstance(schema, str):
        return records(named[schema], named) if schema in named else PRIMITIVES[schema]
    if isinstance(schema, list):
        return st.one_of([records(branch, named) for branch in schema])
    kind, logical = schema["type"], schema.get("logicalType")
    if logical == "decimal":
        return decimals(schema["precision"], schema["scale"])
    if logical == "timestamp-micros":
        return TIMES
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    if kind == "record":
        fields = {f["name"]: records(f["type"], named) for f in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(records(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), records(schema["values"], named), max_size=3)
    return records(kind, named)


def encode(record: Any, schema: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def read(body: bytes, writer: Any, reader: Any) -> Any:
    writer_schema, reader_schema = fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    return fastavro.schemaless_reader(io.BytesIO(body), writer_schema, reader_schema)


def assert_carried(read_value: Any, written: Any, path: str = "") -> None:
    """Every value present on both sides survived resolution unchanged."""
    if isinstance(written, dict):
        for key in read_value.keys() & written.keys():
            assert_carried(read_value[key], written[key], f"{path}.{key}")
    elif isinstance(written, list):
        assert len(read_value) == len(written), path
        for i, (a, b) in enumerate(zip(read_value, written, strict=True)):
            assert_carried(a, b, f"{path}[{i}]")
    else:
        assert read_value == written, path


def assert_defaults(
    read_value: dict[str, Any], writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    """Fields only the reader has came back as their defaults."""
    written = {field["name"] for field in writer["fields"]}
    for field in reader["fields"]:
        if field["name"] not in written:
            assert read_value[field["name"]] == field["default"], field["name"]


def released_schema(name: str, version: int) -> dict[str, Any]:
    return dict(default_registry().released(name))[version]


# -- released versions and the current schema read each other's data -------------------------------


@pytest.mark.parametrize(("name", "version"), RELEASED)
@given(data=st.data())
def test_released_data_reads_under_the_current_schema(
    name: str, version: int, data: st.DataObject
) -> None:
    old, current = released_schema(name, version), default_registry().expanded(name)
    record = data.draw(records(old))
    resolved = read(encode(record, old), old, current)
    assert_carried(resolved, record)
    assert_defaults(resolved, old, current)


@pytest.mark.parametrize(("name", "version"), RELEASED)
@given(data=st.data())
def test_current_data_reads_under_released_schemas(
    name: str, version: int, data: st.DataObject
) -> None:
    old, current = released_schema(name, version), default_registry().expanded(name)
    record = data.draw(records(current))
    resolved = read(encode(record, current), current, old)
    assert_carried(resolved, record)
    assert_defaults(resolved, current, old)


@pytest.mark.parametrize(("name", "version"), RELEASED)
@given(data=st.data())
def test_codec_decodes_released_payloads_into_current_events(
    name: str, version: int, data: st.DataObject
) -> None:
    old = released_schema(name, version)
    record = data.draw(records(old))
    payload = b"\xc3\x01" + fastavro_fingerprint(old) + encode(record, old)
    event = default_codec().decode(payload)
    assert isinstance(event, EVENT_TYPES[name])


def fastavro_fingerprint(schema: Any) -> bytes:
    return bytes.fromhex(fastavro.schema.fingerprint(canonical_form(schema), "CRC-64-AVRO"))


@pytest.mark.parametrize("name", NAMES)
def test_latest_release_matches_the_current_schema(name: str) -> None:
    released = default_registry().released(name)
    assert released, f"{name} was never released: run `python -m schemas.release`"
    version, latest = released[-1]
    assert canonical_form(latest) == canonical_form(default_registry().expanded(name)), (
        f"{name} changed since v{version}: run `python -m schemas.release`"
    )


# -- schema conventions ----------------------------------------------------------------------------


def walk(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object, with the dotted path of the field holding it."""
    if isinstance(schema, list):
        for branch in schema:
            yield from walk(branch, path)
    elif isinstance(schema, dict):
        yield path, schema
        for field in schema.get("fields", []):
            yield from walk(field["type"], f"{path}.{field['name']}")
        for key in ("items", "values"):
            if key in schema:
                yield from walk(schema[key], path)
        if isinstance(schema.get("type"), dict | list):
            yield from walk(schema["type"], path)


def all_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in NAMES:
        yield f"{name} (current)", default_registry().expanded(name)
        for version, schema in default_registry().released(name):
            yield f"{name} v{version}", schema


@pytest.mark.parametrize(("label", "schema"), list(all_schemas()))
def test_every_enum_has_a_default_symbol(label: str, schema: dict[str, Any]) -> None:
    for path, node in walk(schema):
        if node.get("type") == "enum":
            assert node.get("default") in node["symbols"], f"{label}{path}: {node['name']}"


@pytest.mark.parametrize(("label", "schema"), list(all_schemas()))
def test_every_decimal_has_precision_and_scale(label: str, schema: dict[str, Any]) -> None:
    for path, node in walk(schema):
        if node.get("logicalType") == "decimal":
            precision, scale = node.get("precision"), node.get("scale")
            assert isinstance(precision, int) and isinstance(scale, int), f"{label}{path}"
            assert 0 < scale <= precision, f"{label}{path}"


@pytest.mark.parametrize(("label", "schema"), list(all_schemas()))
def test_every_timestamp_is_timestamp_micros(label: str, schema: dict[str, Any]) -> None:
    for path, node in walk(schema):
        logical = node.get("logicalType", "")
        if "time" in logical or "date" in logical:
            assert logical == "timestamp-micros", f"{label}{path}"
        for field in node.get("fields", []):
            name = field["name"]
            if name.startswith("ts_") or name.endswith(("_time", "_at")):
                kind = field["type"]
                assert isinstance(kind, dict), f"{label}{path}.{name} is a bare {kind}"
                assert kind.get("logicalType") == "timestamp-micros", f"{label}{path}.{name}"


def test_walk_sees_nested_fields() -> None:
    paths = {path for path, _ in walk(default_registry().expanded("fillstream.TradeClosed"))}
    assert {".envelope.ts_event", ".envelope.source", ".mae", ".entry_time"} <= paths


# -- a second implementation decodes our bodies to the same values ---------------------------------


def normalized(value: Any) -> Any:
    """avro returns datetimes in its own UTC tzinfo; both sides must be aware."""
    if isinstance(value, datetime):
        assert value.utcoffset() is not None, "naive datetime"
        return value.astimezone(UTC)
    return value


def assert_same(fast: Any, slow: Any, path: str) -> None:
    if isinstance(fast, dict):
        assert isinstance(slow, dict) and fast.keys() == slow.keys(), path
        for key in fast:
            assert_same(fast[key], slow[key], f"{path}.{key}")
    elif isinstance(fast, list):
        assert isinstance(slow, list) and len(fast) == len(slow), path
        for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert type(fast) is type(slow), f"{path}: {type(fast)} vs {type(slow)}"
        assert normalized(fast) == normalized(slow), path
        if isinstance(fast, Decimal):
            assert fast.as_tuple() == slow.as_tuple(), path


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_avro_package_decodes_our_payloads_like_fastavro(name: str, data: st.DataObject) -> None:
    expanded = default_registry().expanded(name)
    event = from_record(EVENT_TYPES[name], data.draw(records(expanded)))
    body = default_codec().encode(event)[10:]
    fast = fastavro.schemaless_reader(io.BytesIO(body), default_registry().current(name), None)
    schema = avro.schema.parse(json.dumps(expanded))
    slow = avro.io.DatumReader(schema, schema).read(avro.io.BinaryDecoder(io.BytesIO(body)))
    assert_same(fast, slow, name)


# -- the release tool ------------------------------------------------------------------------------


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    shutil.copytree(SCHEMAS_DIR / "avro", tmp_path / "avro")
    shutil.copytree(SCHEMAS_DIR / "released", tmp_path / "released")
    return tmp_path


def add_field(root: Path, name: str, field: dict[str, Any]) -> None:
    path = root / "avro" / f"{name}.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append(field)
    path.write_text(json.dumps(schema))


def test_nothing_to_release_when_schemas_are_unchanged(schemas_copy: Path) -> None:
    assert pending_releases(SchemaRegistry(schemas_copy)) == []


def test_release_refuses_a_field_without_default(schemas_copy: Path) -> None:
    add_field(schemas_copy, "fillstream.BarClosed", {"name": "venue", "type": "string"})
    registry = SchemaRegistry(schemas_copy)
    (pending,) = pending_releases(registry)
    assert (pending.full_name, pending.version) == ("fillstream.BarClosed", 2)
    (problem,) = incompatibilities(registry, pending)
    assert problem.startswith("fillstream.BarClosed: v2 cannot read v1 data")
    assert "venue" in problem


def test_release_writes_the_next_version_of_a_compatible_change(schemas_copy: Path) -> None:
    venue = {"name": "venue", "type": ["null", "string"], "default": None}
    add_field(schemas_copy, "fillstream.ExecutionReported", venue)
    (pending,) = pending_releases(SchemaRegistry(schemas_copy))
    assert incompatibilities(SchemaRegistry(schemas_copy), pending) == []
    path = write_release(schemas_copy, pending)
    assert path == schemas_copy / "released" / "fillstream.ExecutionReported" / "v3.avsc"
    registry = SchemaRegistry(schemas_copy)
    assert pending_releases(registry) == []
    assert [v for v, _ in registry.released("fillstream.ExecutionReported")] == [1, 2, 3]
    written = json.loads(path.read_text())
    assert written["fields"][-1] == venue
    assert written["fields"][6]["type"]["logicalType"] == "decimal"  # logical types kept
