"""Events to bytes and back.

``Codec`` is the one interface producers and consumers use, so that another wire format (say a
Confluent schema registry's) can be plugged in later. ``SingleObjectCodec`` implements the Avro
single-object encoding: marker ``C3 01``, the writer schema's 8-byte little-endian CRC-64-AVRO
fingerprint, then the Avro binary body. Payloads written with a released schema version are read
into the current schema's shape.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, Protocol

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from fillstream.errors import CodecError
from schemas.events import EVENT_TYPES, Event, from_record, schema_name, to_record
from schemas.registry import SchemaRegistry, default_registry

MARKER = b"\xc3\x01"
"""The two bytes that open every single-object encoded payload."""

_HEADER_SIZE = len(MARKER) + 8


class Codec(Protocol):
    """Turns events into message payloads and back."""

    def encode(self, event: Event) -> bytes: ...

    def decode(self, payload: bytes) -> Event: ...


class SingleObjectCodec:
    """Avro single-object encoding, with writer schemas looked up by fingerprint."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._headers = {name: MARKER + registry.fingerprint(name) for name in registry.names()}
        self._decimal_slots = {
            name: _decimal_slots(registry.expanded(name)) for name in registry.names()
        }

    def encode(self, event: Event) -> bytes:
        name = schema_name(event)
        schema = self._registry.current(name)
        record = to_record(event)
        slots = self._decimal_slots[name]
        problem = (
            _slot_problem(record, slots, name)
            if slots is not None
            else next(_decimal_problems(record, self._registry.expanded(name), name), None)
        )
        if problem is not None:
            raise CodecError(problem)
        out = io.BytesIO()
        out.write(self._headers[name])
        try:
            validate(record, schema, raise_errors=True, strict=True)
            fastavro.schemaless_writer(out, schema, record)
        except (ValidationError, ValueError, TypeError, OverflowError) as e:
            raise CodecError(f"{name}: record does not match the schema: {_one_line(e)}") from e
        return out.getvalue()

    def decode(self, payload: bytes) -> Event:
        if len(payload) < _HEADER_SIZE:
            raise CodecError(
                f"payload of {len(payload)} bytes is shorter than the {_HEADER_SIZE}-byte "
                "single-object header; is it Avro single-object encoded?"
            )
        if payload[: len(MARKER)] != MARKER:
            raise CodecError(
                f"payload starts with {bytes(payload[:2]).hex()}, not the single-object marker "
                f"{MARKER.hex()}; was it written by another codec?"
            )
        fingerprint = bytes(payload[len(MARKER) : _HEADER_SIZE])
        name, writer = self._registry.writer_for(fingerprint)
        current = self._registry.fingerprint(name)
        reader = None if fingerprint == current else self._registry.current(name)
        body = io.BytesIO(payload)
        body.seek(_HEADER_SIZE)
        try:
            record = fastavro.schemaless_reader(body, writer, reader)
        except SchemaResolutionError as e:
            raise CodecError(
                f"{name}: an older version's payload does not resolve to the current schema "
                f"({_one_line(e)}); that change needed a release check (python -m schemas.release)"
            ) from e
        # fastavro raises whatever its reader hits on corrupt input (EOFError, IndexError, ...).
        except Exception as e:
            raise CodecError(
                f"{name}: payload body does not decode ({_with_type(e)}); "
                "the payload is corrupt or truncated"
            ) from e
        trailing = len(payload) - body.tell()
        if trailing:
            raise CodecError(f"{name}: {trailing} unexpected bytes after the record")
        if not isinstance(record, Mapping):
            raise CodecError(
                f"{name}: payload body decoded to {type(record).__name__}, not a record"
            )
        cls = EVENT_TYPES[name]
        try:
            event: Event = from_record(cls, record)
        except (ValueError, TypeError, KeyError) as e:
            raise CodecError(
                f"{name}: record does not fit {cls.__name__}: {_with_type(e)}; "
                "the dataclass and the .avsc have drifted apart"
            ) from e
        return event


@functools.cache
def default_codec() -> SingleObjectCodec:
    """The single-object codec over the package's own schemas."""
    return SingleObjectCodec(default_registry())


_Slot = tuple[tuple[str, ...], int, int]


def _decimal_slots(schema: Any) -> list[_Slot] | None:
    """Where a record's decimals sit (field path, precision, scale), worked out once per schema;
    None when some decimal is inside an array or a map (then the general walk checks them)."""
    slots: list[_Slot] = []

    def visit(node: Any, path: tuple[str, ...]) -> bool:
        if isinstance(node, list):
            return all(visit(branch, path) for branch in node)
        if not isinstance(node, dict):
            return True
        if node.get("logicalType") == "decimal":
            slots.append((path, int(node["precision"]), int(node.get("scale", 0))))
            return True
        if node.get("type") == "record":
            return all(visit(f["type"], (*path, f["name"])) for f in node["fields"])
        if node.get("type") in ("array", "map"):
            return not _holds_decimal(node.get("items", node.get("values")))
        return True

    return slots if visit(schema, ()) else None


def _holds_decimal(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_holds_decimal(branch) for branch in schema)
    if not isinstance(schema, dict):
        return False
    if schema.get("logicalType") == "decimal":
        return True
    if schema.get("type") == "record":
        return any(_holds_decimal(f["type"]) for f in schema["fields"])
    return _holds_decimal(schema.get("items")) or _holds_decimal(schema.get("values"))


def _slot_problem(record: Mapping[str, Any], slots: list[_Slot], name: str) -> str | None:
    for path, precision, scale in slots:
        value: Any = record
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, Decimal):
            problem = next(_decimal_fits(value, precision, scale, ".".join((name, *path))), None)
            if problem is not None:
                return problem
    return None


def _decimal_problems(value: Any, schema: Any, path: str) -> Iterator[str]:
    """Decimals the schema cannot hold; fastavro checks scale without naming the field, and
    does not check precision at all."""
    if isinstance(schema, list):
        for branch in schema:
            yield from _decimal_problems(value, branch, path)
    elif not isinstance(schema, dict) or value is None:
        return
    elif schema.get("logicalType") == "decimal" and isinstance(value, Decimal):
        yield from _decimal_fits(value, schema["precision"], schema.get("scale", 0), path)
    elif schema["type"] == "record" and isinstance(value, Mapping):
        for field in schema["fields"]:
            field_path = f"{path}.{field['name']}"
            yield from _decimal_problems(value.get(field["name"]), field["type"], field_path)
    elif schema["type"] == "array" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _decimal_problems(item, schema["items"], f"{path}[{i}]")
    elif schema["type"] == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _decimal_problems(item, schema["values"], f"{path}[{key!r}]")


def _decimal_fits(value: Decimal, precision: int, scale: int, path: str) -> Iterator[str]:
    if not value.is_finite():
        yield f"{path}: {value} is not a finite Decimal"
        return
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    if -exponent > scale:
        yield (
            f"{path}: {value} has {-exponent} fractional digits, the schema allows {scale} "
            f"(quantize it, e.g. value.quantize(Decimal('1e-{scale}')))"
        )
    elif value.adjusted() + 1 + scale > precision:
        yield f"{path}: {value} needs more than the schema's precision of {precision} digits"


def _one_line(error: BaseException) -> str:
    text = "; ".join(map(str, error.errors)) if isinstance(error, ValidationError) else str(error)
    return " ".join(text.split())


def _with_type(error: BaseException) -> str:
    text = _one_line(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
