"""Events to bytes and back.

``Codec`` is the one interface producers and consumers use, so that another wire format (say a
Confluent schema registry's) can be plugged in later. ``SingleObjectCodec`` implements the Avro
single-object encoding: marker ``C3 01``, the writer schema's 8-byte little-endian CRC-64-AVRO
fingerprint, then the Avro binary body. Payloads written with a released schema version are read
into the current schema's shape.

Payloads of the current schemas are read by generated readers (``schemas.reader``), several
times faster than fastavro followed by the dataclass conversion; a payload such a reader cannot
read to its end (older schema, corrupt, truncated) is read the reference way, which names what is
wrong.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError

from core.errors import CodecError
from schemas.events import EVENT_TYPES, Event, from_record, schema_name
from schemas.reader import CellForms, compile_reader, compile_row_reader
from schemas.registry import SchemaRegistry, default_registry
from schemas.writer import compile_writer

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
        self._writers = {
            name: compile_writer(registry.expanded(name), name) for name in registry.names()
        }
        readers = {
            registry.fingerprint(name): compile_reader(registry.expanded(name), EVENT_TYPES[name])
            for name in registry.names()
        }
        self._readers = {fingerprint: r for fingerprint, r in readers.items() if r is not None}
        """Generated readers of the current schemas, by fingerprint: a payload they read to its
        end is decoded; any other is read again by fastavro, which names what is wrong."""

    def row_reader(
        self, cls: type[Any], cells: Sequence[str], forms: CellForms
    ) -> Callable[[bytes, str, int, int], tuple[Any, ...] | None] | None:
        """A reader of ``cls`` payloads written with its current schema straight into rows
        (``schemas.reader.compile_row_reader``), or None if it has no generated form. It returns
        None for any payload it does not read to its end (another type, an older schema,
        damage): ``decode`` reads those, and names what is wrong."""
        (name,) = (n for n in self._registry.names() if EVENT_TYPES[n] is cls)
        read = compile_row_reader(self._registry.expanded(name), cls, cells, forms)
        if read is None:
            return None
        header = self._headers[name]

        def read_row(payload: bytes, topic: str, partition: int, offset: int) -> Any:
            if payload[:_HEADER_SIZE] != header:
                return None
            try:
                row, end = read(payload, _HEADER_SIZE, topic, partition, offset)
            except Exception:  # noqa: BLE001 - decode reads it again, and names the fault
                return None
            return row if end == len(payload) else None

        return read_row

    def encode(self, event: Event) -> bytes:
        name = schema_name(event)
        return self._headers[name] + self._writers[name](event)

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
        read = self._readers.get(fingerprint)
        if read is not None:
            try:
                fast, end = read(payload, _HEADER_SIZE)
                if end == len(payload):
                    return fast  # type: ignore[no-any-return]
            except Exception:  # noqa: BLE001,S110 - read again below, to be named
                pass
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


def _one_line(error: BaseException) -> str:
    text = "; ".join(map(str, error.errors)) if isinstance(error, ValidationError) else str(error)
    return " ".join(text.split())


def _with_type(error: BaseException) -> str:
    text = _one_line(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
