"""Avro binary decoding generated per schema, straight into the event dataclasses.

``compile_reader(schema, cls)`` writes one flat Python function for an expanded schema and the
dataclass it describes: ``read(data, position) -> (event, end)``, nested records, arrays and the
common types inlined. It reads only payloads written with that very schema (the codec's common
case: the writer's fingerprint is the current one) and builds exactly what
``fastavro.schemaless_reader`` followed by ``events.from_record`` builds (a property test holds
it to that), several times faster. It names no errors: on any input it cannot read (truncated,
corrupt, out of range) it raises, and the codec reads the payload again the reference way, which
says what is wrong. ``compile_reader`` returns None for a schema it has no generated form for.
"""

from __future__ import annotations

import dataclasses
import keyword
import struct
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from enum import Enum
from typing import Any, Union

from schemas.errors import CellError, NoGeneratedFormError
from schemas.writer import Source

Read = Callable[[bytes, int], tuple[Any, int]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KNOWN_DECIMALS = 4096
"""Decimals a reader keeps, by their bytes: prices on a tick grid, commissions and PnL repeat."""


def compile_reader(schema: Mapping[str, Any], cls: type[Any]) -> Read | None:
    """The generated reader of the expanded record ``schema`` into ``cls``, or None."""
    source = Source(_READER_CONSTANTS)
    try:
        result = _emit(schema, cls, source, 1)
    except NoGeneratedFormError:
        return None
    body = "\n".join(source.lines)
    code = f"def read(b, p):\n{body}\n    return {result}, p\n"
    namespace = dict(source.constants)
    exec(compile(code, f"<fillstream avro reader {schema['name']}>", "exec"), namespace)  # noqa: S102
    read: Read = namespace["read"]
    return read


def _varint(data: bytes, position: int, first: int) -> tuple[int, int]:
    """The rest of a varint whose first byte (``first``, at least 0x80) was read; zigzag not
    yet undone."""
    n, shift = first & 0x7F, 7
    while True:
        byte = data[position]
        position += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, position
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _decimal(
    precision: int, scale: int, then: Callable[[Decimal], Decimal] | None = None
) -> Callable[[bytes], Decimal]:
    """The decimal of an unscaled big-endian two's-complement integer, as fastavro reads it
    (passed through ``then`` if given)."""
    context = Context(prec=precision)
    known: dict[bytes, Decimal] = {}

    def decimal(data: bytes) -> Decimal:
        value = known.get(data)
        if value is None:
            unscaled = int.from_bytes(data, "big", signed=True)
            value = context.create_decimal(unscaled).scaleb(-scale, context)
            if then is not None:
                value = then(value)
            if len(known) >= _KNOWN_DECIMALS:
                known.clear()
            known[data] = value
        return value

    return decimal


_READER_CONSTANTS: dict[str, Any] = {
    "_rv": _varint,
    "_double": struct.Struct("<d").unpack_from,
    "_EPOCH": _EPOCH,
    "_td": timedelta,
}


_MAP_VALUES = ((float, "double"), (str, "string"), (int, "long"), (bool, "boolean"))
"""Map values read here (from_record keeps them as fastavro reads them, so no conversion)."""


def _emit(schema: Any, hint: Any, s: Source, indent: int) -> str:
    """Lines that read a value of ``schema`` at ``p`` (advancing it) into the type ``hint``;
    returns the expression (a variable) holding it."""
    if isinstance(schema, list):
        return _optional(schema, hint, s, indent)
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    base = getattr(hint, "__supertype__", hint)  # NewType
    x = s.name()
    if kind in ("int", "long") and logical is None and base is int:
        _emit_long(x, s, indent)
    elif kind == "long" and logical == "timestamp-micros" and base is datetime:
        _emit_long(x, s, indent)
        s.add(indent, f"{x} = _EPOCH + _td(microseconds={x})")
    elif kind == "bytes" and logical == "decimal" and base is Decimal:
        size = s.name()
        decimal = s.constant(_decimal(int(schema["precision"]), int(schema.get("scale", 0))))
        _emit_size(size, s, indent)
        s.add(indent, f"{x} = {decimal}(b[p:p + {size}])")
        s.add(indent, f"p += {size}")
    elif kind == "string" and base is str:
        size = s.name()
        _emit_size(size, s, indent)
        s.add(indent, f"{x} = b[p:p + {size}].decode()")
        s.add(indent, f"p += {size}")
    elif kind == "boolean" and base is bool:
        s.add(indent, f"{x} = b[p]")
        s.add(indent, "p += 1")
        s.add(indent, f"if {x} > 1: raise ValueError('boolean byte')")
        s.add(indent, f"{x} = {x} == 1")
    elif kind == "double" and base is float:
        s.add(indent, f"{x} = _double(b, p)[0]")
        s.add(indent, "p += 8")
    elif kind == "enum" and isinstance(base, type) and issubclass(base, Enum):
        members = s.constant(tuple(base(symbol) for symbol in schema["symbols"]))
        _emit_long(x, s, indent)
        s.add(indent, f"if {x} < 0: raise IndexError('enum position')")
        s.add(indent, f"{x} = {members}[{x}]")
    elif kind == "record" and isinstance(base, type) and dataclasses.is_dataclass(base):
        _emit_record(schema, base, x, s, indent)
    elif kind == "array" and typing.get_origin(hint) is tuple:
        item, ellipsis = typing.get_args(hint)
        if ellipsis is not Ellipsis:
            raise NoGeneratedFormError(hint)
        _emit_blocks(x, s, indent, lambda inner: _emit(schema["items"], item, s, inner), "tuple")
    elif kind == "map" and (typing.get_origin(hint) is Mapping or hint is Mapping):
        args = typing.get_args(hint)
        value_hint = args[1] if args else Any
        if (value_hint, schema["values"]) not in _MAP_VALUES:
            raise NoGeneratedFormError(hint)  # from_record keeps map values as fastavro reads them

        def entry(inner: int) -> str:
            key = _emit("string", str, s, inner)
            value = _emit(schema["values"], value_hint, s, inner)
            return f"({key}, {value})"

        _emit_blocks(x, s, indent, entry, "dict")
    else:
        raise NoGeneratedFormError(f"{schema!r} as {hint!r}")
    return x


def _optional(schema: list[Any], hint: Any, s: Source, indent: int) -> str:
    if len(schema) != 2 or schema[0] != "null":
        raise NoGeneratedFormError(schema)
    if typing.get_origin(hint) not in (Union, types.UnionType):
        raise NoGeneratedFormError(hint)
    (inner,) = (a for a in typing.get_args(hint) if a is not type(None))
    x, branch = s.name(), s.name()
    s.add(indent, f"{branch} = b[p]")
    s.add(indent, "p += 1")
    s.add(indent, f"if {branch} == 0: {x} = None")
    s.add(indent, f"elif {branch} == 2:")
    value = _emit(schema[1], inner, s, indent + 1)
    s.add(indent + 1, f"{x} = {value}")
    s.add(indent, "else: raise ValueError('union branch')")
    return x


def _emit_record(schema: Mapping[str, Any], cls: type[Any], x: str, s: Source, indent: int) -> None:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    arguments = []
    for field in schema["fields"]:
        name = field["name"]
        if name not in fields:
            raise NoGeneratedFormError(f"{schema['name']}.{name}: not a field of {cls.__name__}")
        value = _emit(field["type"], hints[name], s, indent)
        if not name.isidentifier() or keyword.iskeyword(name):
            raise NoGeneratedFormError(name)
        arguments.append(f"{name}={value}")
    s.add(indent, f"{x} = {s.constant(cls)}({', '.join(arguments)})")


def _emit_long(x: str, s: Source, indent: int) -> None:
    """Read a zigzag varint into ``x``."""
    s.add(indent, f"{x} = b[p]")
    s.add(indent, "p += 1")
    s.add(indent, f"if {x} > 127: {x}, p = _rv(b, p, {x})")
    s.add(indent, f"{x} = ({x} >> 1) ^ -({x} & 1)")


def _emit_size(x: str, s: Source, indent: int) -> None:
    """Read a length into ``x``: never negative, never past the end."""
    _emit_long(x, s, indent)
    s.add(indent, f"if {x} < 0 or p + {x} > len(b): raise ValueError('length')")


def _emit_blocks(
    x: str, s: Source, indent: int, item: Callable[[int], str], container: str
) -> None:
    """Read an array's or a map's blocks into ``x`` (``container`` of what ``item`` reads)."""
    items, count, size = s.name(), s.name(), s.name()
    s.add(indent, f"{items} = []")
    s.add(indent, "while True:")
    _emit_long(count, s, indent + 1)
    s.add(indent + 1, f"if {count} == 0: break")
    s.add(indent + 1, f"if {count} < 0:")
    s.add(indent + 2, f"{count} = -{count}")
    _emit_long(size, s, indent + 2)  # the block's size in bytes: not needed to read it
    s.add(indent + 1, f"for _ in range({count}):")
    value = item(indent + 2)
    s.add(indent + 2, f"{items}.append({value})")
    s.add(indent, f"{x} = {container}({items})")


RowRead = Callable[[bytes, int, str, int, int], tuple[tuple[Any, ...], int]]
"""``read(data, position, topic, partition, offset) -> (row, end)``."""

LOCATION_CELLS = ("@topic", "@partition", "@offset")
"""Cells naming where the record was read instead of a field."""


@dataclasses.dataclass(frozen=True)
class CellForms:
    """How a row reader writes some of its cells (by position in the row), for the database:
    ``trimmed`` decimals through ``trim`` (read once per distinct value), ``literal`` arrays of
    strings as PostgreSQL array literals (``{"a","b"}``) instead of lists."""

    trim: Callable[[Decimal], Decimal] | None = None
    trimmed: frozenset[int] = frozenset()
    literal: frozenset[int] = frozenset()


def compile_row_reader(
    schema: Mapping[str, Any], cls: type[Any], cells: Sequence[str], forms: CellForms = CellForms()
) -> RowRead | None:
    """The generated reader of the expanded record ``schema`` (of dataclass ``cls``) straight
    into a row: one value per cell, without building the event. A cell is a field's path
    (``trade_id``, ``envelope.event_id``), optionally followed by ``:interval`` (microseconds
    as a ``timedelta``), or one of ``LOCATION_CELLS``; enums become their values and arrays
    lists, as ``RowSpec.to_rows`` makes them from the event. Like ``compile_reader`` it names no
    errors (it raises), and returns None for a schema it has no generated form for. A cell
    naming no field of ``cls`` is a ``CellError`` (a ValueError)."""
    wanted: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for n, cell in enumerate(cells):
        if cell in LOCATION_CELLS:
            continue
        path, _, conversion = cell.partition(":")
        if conversion not in ("", "interval"):
            raise CellError(f"cell {cell!r}: unknown conversion {conversion!r}")
        _check_path(cls, path.split("."), cell)
        wanted.setdefault(tuple(path.split(".")), []).append((n, conversion))
    source = Source(_READER_CONSTANTS)
    values: dict[int, str] = {n: cell[1:] for n, cell in enumerate(cells) if cell in LOCATION_CELLS}
    try:
        _emit_cells(schema, cls, (), wanted, forms, values, source)
    except NoGeneratedFormError:
        return None
    row = ", ".join(values[n] for n in range(len(cells)))
    body = "\n".join(source.lines)
    code = f"def read(b, p, topic, partition, offset):\n{body}\n    return ({row},), p\n"
    namespace = dict(source.constants)
    name = f"<fillstream avro row reader {schema['name']}>"
    exec(compile(code, name, "exec"), namespace)  # noqa: S102
    read: RowRead = namespace["read"]
    return read


def array_literal(items: Sequence[str | None]) -> str:
    """A PostgreSQL array literal of ``items`` (text[] input): each quoted, backslashes and
    double quotes escaped, None as NULL."""
    return (
        "{"
        + ",".join(
            "NULL" if i is None else '"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for i in items
        )
        + "}"
    )


def _check_path(cls: type[Any], path: list[str], cell: str) -> None:
    hint: Any = cls
    for part in path:
        base = _unoptional(hint)
        if not (isinstance(base, type) and dataclasses.is_dataclass(base)):
            raise CellError(f"cell {cell!r}: {part!r} is inside a value that is not a record")
        hints = typing.get_type_hints(base)
        if part not in hints:
            raise CellError(f"cell {cell!r}: {base.__name__} has no field {part!r}")
        hint = hints[part]


def _unoptional(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        (inner,) = (a for a in typing.get_args(hint) if a is not type(None))
        return inner
    return hint


def _emit_cells(
    schema: Mapping[str, Any],
    cls: type[Any],
    prefix: tuple[str, ...],
    wanted: Mapping[tuple[str, ...], list[tuple[int, str]]],
    forms: CellForms,
    values: dict[int, str],
    s: Source,
) -> None:
    """Read a record's fields in order, keeping the wanted ones as cells (``values``: cell
    position → expression)."""
    hints = typing.get_type_hints(cls)
    for field in schema["fields"]:
        name = field["name"]
        if name not in hints:
            raise NoGeneratedFormError(f"{schema['name']}.{name}: not a field of {cls.__name__}")
        path = (*prefix, name)
        hint = hints[name]
        inner = _unoptional(hint)
        if any(w[: len(path)] == path and len(w) > len(path) for w in wanted):
            # a record some of whose fields are cells: never null on the way to them
            if not (isinstance(field["type"], dict) and field["type"]["type"] == "record"):
                raise NoGeneratedFormError(
                    f"{'.'.join(path)}: only required records are walked into"
                )
            _emit_cells(field["type"], inner, path, wanted, forms, values, s)
            continue
        cells = wanted.get(path)
        if not cells:
            _emit(field["type"], hint, s, 1)  # read (checked) and left
            continue
        for n, conversion in cells:
            values[n] = _emit_cell(field["type"], hint, n, conversion, forms, s, 1)
        if len(cells) > 1:  # the same field in several cells: read once
            first = values[cells[0][0]]
            for n, _ in cells[1:]:
                values[n] = first


def _emit_cell(
    schema: Any, hint: Any, n: int, conversion: str, forms: CellForms, s: Source, indent: int
) -> str:
    """Lines that read one field as cell ``n``; the expression holding it."""
    if isinstance(schema, list):
        if len(schema) != 2 or schema[0] != "null":
            raise NoGeneratedFormError(schema)
        x, branch = s.name(), s.name()
        s.add(indent, f"{branch} = b[p]")
        s.add(indent, "p += 1")
        s.add(indent, f"if {branch} == 0: {x} = None")
        s.add(indent, f"elif {branch} == 2:")
        value = _emit_cell(schema[1], _unoptional(hint), n, conversion, forms, s, indent + 1)
        s.add(indent + 1, f"{x} = {value}")
        s.add(indent, "else: raise ValueError('union branch')")
        return x
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    base = getattr(hint, "__supertype__", hint)
    if conversion == "interval":
        if not (kind == "long" and logical is None and base is int):
            raise NoGeneratedFormError(f"{schema!r} as an interval")
        x = _emit(schema, hint, s, indent)
        s.add(indent, f"{x} = _td(microseconds={x})")
        return x
    if kind == "enum" and isinstance(base, type) and issubclass(base, Enum):
        x = s.name()
        members = s.constant(tuple(base(symbol).value for symbol in schema["symbols"]))
        _emit_long(x, s, indent)
        s.add(indent, f"if {x} < 0: raise IndexError('enum position')")
        s.add(indent, f"{x} = {members}[{x}]")
        return x
    if kind == "bytes" and logical == "decimal" and base is Decimal and n in forms.trimmed:
        if forms.trim is None:
            raise CellError("trimmed cells need CellForms.trim")
        x, size = s.name(), s.name()
        decimal = s.constant(
            _decimal(int(schema["precision"]), int(schema.get("scale", 0)), forms.trim)
        )
        _emit_size(size, s, indent)
        s.add(indent, f"{x} = {decimal}(b[p:p + {size}])")
        s.add(indent, f"p += {size}")
        return x
    if kind == "array" and typing.get_origin(hint) is tuple:
        x = _emit(schema, hint, s, indent)  # a tuple
        if n in forms.literal:
            (item, _) = typing.get_args(hint)
            if getattr(item, "__supertype__", item) is not str:
                raise NoGeneratedFormError(f"{hint!r} as an array literal")
            s.add(indent, f"{x} = {s.constant(array_literal)}({x})")
        else:
            s.add(indent, f"{x} = list({x})")
        return x
    if kind in ("record", "map"):
        raise NoGeneratedFormError(f"{schema!r} as a cell")
    return _emit(schema, hint, s, indent)
