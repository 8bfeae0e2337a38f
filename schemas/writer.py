"""Avro binary encoding compiled per schema, straight from the event dataclasses.

``compile_writer(schema)`` turns an expanded schema into one function per named part, once; the
function checks each value's type as it writes it (what ``fastavro.validation`` would refuse is
refused here, naming the field) and produces exactly the bytes ``fastavro.schemaless_writer``
produces for the same record (a property test holds it to that). ``schemas.reader`` is the
decoding counterpart.

Events are written by a second, generated form of the same writer: one flat Python function per
schema, nested records and the common types inlined, with the same checks. It only says
whether a value fits; when it does not (or the value is a mapping), the first form writes it
again and names what is wrong. Both forms give the same bytes (a property test holds it to that).
"""

from __future__ import annotations

import contextlib
import keyword
import struct
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Context, Decimal
from enum import Enum
from typing import Any

from core.errors import CodecError
from schemas.errors import ValueMismatchError, WriteMisfitError

Write = Callable[[Any, bytearray], None]
"""Appends the encoding of a value to the buffer; raises ``ValueMismatchError`` for a value that
does not fit, whose path the enclosing records and arrays complete on the way out."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOUBLE = struct.Struct("<d")
_INT_RANGE = (-(2**31), 2**31 - 1)
_EXACT = Context(prec=1000)
"""Wide enough that moving a schema-checked decimal's point never rounds."""
_LONG_RANGE = (-(2**63), 2**63 - 1)


def compile_writer(schema: Any, name: str) -> Callable[[Any], bytes]:
    """The encoder of the expanded schema ``name``: ``encode(event_or_record) -> bytes``.

    Raises ``CodecError`` naming the field: ``fillstream.X: record does not match the schema:
    fillstream.X.quantity: '1' is not an int``, or ``fillstream.X.price: ... fractional digits``.
    """
    write = _compile(schema)
    fast = _generate(schema)

    def encode(value: Any) -> bytes:
        out = bytearray()
        try:
            fast(value, out)
            return bytes(out)
        except Exception:  # noqa: BLE001 - any misfit is written again, to be named
            out = bytearray()
        try:
            write(value, out)
        except ValueMismatchError as e:
            if e.fatal:
                raise CodecError(f"{e.where(name)}: {e.reason}") from None
            raise CodecError(
                f"{name}: record does not match the schema: {e.where(name)}: {e.reason}"
            ) from None
        return bytes(out)

    return encode


def _compile(schema: Any) -> Write:
    if isinstance(schema, list):
        return _union(schema)
    if isinstance(schema, str):
        return _PRIMITIVES[schema]
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "decimal" and kind == "bytes":
        return _decimal(int(schema["precision"]), int(schema.get("scale", 0)))
    if logical == "timestamp-micros" and kind == "long":
        return _timestamp_micros
    if kind == "record":
        return _record(schema)
    if kind == "enum":
        return _enum(schema["symbols"])
    if kind == "array":
        return _array(_compile(schema["items"]))
    if kind == "map":
        return _map(_compile(schema["values"]))
    return _compile(kind)


def _computed_varint(n: int, out: bytearray) -> None:
    n = (n << 1) ^ (n >> 63)  # zigzag
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _encoded(n: int) -> bytes:
    out = bytearray()
    _computed_varint(n, out)
    return bytes(out)


_SMALL = 8192
_SMALL_VARINTS = [_encoded(n) for n in range(-_SMALL, _SMALL)]
"""The encodings of lengths, enum positions and small ints, looked up rather than computed."""


def _varint(n: int, out: bytearray) -> None:
    if -_SMALL <= n < _SMALL:
        out += _SMALL_VARINTS[n + _SMALL]
    else:
        _computed_varint(n, out)


def _integer(bounds: tuple[int, int], label: str) -> Write:
    low, high = bounds

    def write(value: Any, out: bytearray) -> None:
        if type(value) is not int:  # bool is an int subclass, and not an Avro int
            raise ValueMismatchError(f"{value!r} is not an {label}")
        if not low <= value <= high:
            raise ValueMismatchError(f"{value} is out of the range of an {label}")
        _varint(value, out)

    return write


def _string(value: Any, out: bytearray) -> None:
    if not isinstance(value, str):
        raise ValueMismatchError(f"{value!r} is not a string")
    data = value.encode()
    _varint(len(data), out)
    out += data


def _bytes(value: Any, out: bytearray) -> None:
    if not isinstance(value, bytes | bytearray):
        raise ValueMismatchError(f"{value!r} is not bytes")
    _varint(len(value), out)
    out += value


def _double(value: Any, out: bytearray) -> None:
    if type(value) not in (float, int):
        raise ValueMismatchError(f"{value!r} is not a number")
    out += _DOUBLE.pack(value)


def _boolean(value: Any, out: bytearray) -> None:
    if type(value) is not bool:
        raise ValueMismatchError(f"{value!r} is not a boolean")
    out.append(1 if value else 0)


def _null(value: Any, out: bytearray) -> None:
    if value is not None:
        raise ValueMismatchError(f"{value!r} is not null")


_PRIMITIVES: dict[str, Write] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer(_INT_RANGE, "int"),
    "long": _integer(_LONG_RANGE, "long"),
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}


def _timestamp_micros(value: Any, out: bytearray) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueMismatchError(f"{value!r} is not a timezone-aware datetime")
    delta = value - _EPOCH
    _LONG(((delta.days * 86400 + delta.seconds) * 1_000_000) + delta.microseconds, out)


_LONG = _PRIMITIVES["long"]


_KNOWN_DECIMALS = 4096
"""Encodings a decimal writer keeps, by the value's text: prices on a tick grid, commissions and
PnL repeat, and a dictionary look-up costs a fraction of the arithmetic."""


def _decimal(precision: int, scale: int) -> Write:
    known: dict[str, bytes] = {}

    def write(value: Any, out: bytearray) -> None:
        # the text names digits and exponent exactly, so equal text passes the same checks
        text = str(value) if type(value) is Decimal else None
        if text is not None:
            seen = known.get(text)
            if seen is not None:
                out += seen
                return
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueMismatchError(f"{value!r} is not a finite Decimal")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > scale:
            raise ValueMismatchError(
                f"{value} has {-exponent} fractional digits, the schema allows {scale} "
                f"(quantize it, e.g. value.quantize(Decimal('1e-{scale}')))",
                fatal=True,
            )
        if value.adjusted() + 1 + scale > precision:
            raise ValueMismatchError(
                f"{value} needs more than the schema's precision of {precision} digits", fatal=True
            )
        unscaled = int(value.scaleb(scale, _EXACT))
        size = (unscaled.bit_length() + 1 + 7) // 8  # as fastavro sizes it
        data = unscaled.to_bytes(size, "big", signed=True)
        encoded = bytearray()
        _varint(len(data), encoded)
        encoded += data
        if text is not None:
            if len(known) >= _KNOWN_DECIMALS:
                known.clear()
            known[text] = bytes(encoded)
        out += encoded

    return write


def _enum(symbols: list[str]) -> Write:
    index = {symbol: i for i, symbol in enumerate(symbols)}

    def write(value: Any, out: bytearray) -> None:
        symbol = value.value if isinstance(value, Enum) else value
        position = index.get(symbol)
        if position is None:
            raise ValueMismatchError(f"{symbol!r} is not one of {', '.join(symbols)}")
        _varint(position, out)

    return write


def _union(branches: list[Any]) -> Write:
    if len(branches) == 2 and branches[0] == "null":
        inner = _compile(branches[1])

        def optional(value: Any, out: bytearray) -> None:
            if value is None:
                out.append(0)  # branch 0, zigzag-encoded
            else:
                out.append(2)  # branch 1
                inner(value, out)

        return optional
    raise CodecError(f"unions other than [null, X] are not supported: {branches!r}")


def _array(item: Write) -> Write:
    def write(value: Any, out: bytearray) -> None:
        if not isinstance(value, tuple | list):
            raise ValueMismatchError(f"{value!r} is not an array")
        if value:
            _varint(len(value), out)
            for i, element in enumerate(value):
                try:
                    item(element, out)
                except ValueMismatchError as e:
                    raise e.within(f"[{i}]") from None
        out.append(0)

    return write


def _map(item: Write) -> Write:
    def write(value: Any, out: bytearray) -> None:
        if not isinstance(value, Mapping):
            raise ValueMismatchError(f"{value!r} is not a map")
        if value:
            _varint(len(value), out)
            for key, element in value.items():
                try:
                    _string(key, out)
                    item(element, out)
                except ValueMismatchError as e:
                    raise e.within(f"[{key!r}]") from None
        out.append(0)

    return write


def _record(schema: Mapping[str, Any]) -> Write:
    fields = [(f["name"], _compile(f["type"])) for f in schema["fields"]]

    def write(value: Any, out: bytearray) -> None:
        getter = value.get if isinstance(value, Mapping) else None
        for name, field in fields:
            try:
                item = getter(name) if getter is not None else getattr(value, name)
            except AttributeError:
                raise ValueMismatchError("is missing").within(f".{name}") from None
            try:
                field(item, out)
            except ValueMismatchError as e:
                raise e.within(f".{name}") from None

    return write


class Source:
    """The lines of a generated function and the constants it refers to (the generated
    writers' and readers')."""

    def __init__(self, constants: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.constants = dict(constants)
        self._names = 0

    def name(self, prefix: str = "v") -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def constant(self, value: Any) -> str:
        name = self.name("_c")
        self.constants[name] = value
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


_WRITER_CONSTANTS: dict[str, Any] = {
    "_Retry": WriteMisfitError,
    "_SV": _SMALL_VARINTS,
    "_cv": _computed_varint,
    "_pack": _DOUBLE.pack,
    "_EPOCH": _EPOCH,
    "_datetime": datetime,
    "_Enum": Enum,
}


def _generate(schema: Any) -> Write:
    """The generated form of ``_compile(schema)`` (see the module's doc)."""
    source = Source(_WRITER_CONSTANTS)
    _emit(schema, "value", source, 1)
    code = "def write(value, out):\n" + ("\n".join(source.lines) or "    pass") + "\n"
    namespace = dict(source.constants)
    exec(compile(code, "<fillstream avro writer>", "exec"), namespace)  # noqa: S102
    write: Write = namespace["write"]
    return write


def _emit(schema: Any, x: str, s: Source, indent: int) -> None:
    """Lines that write the value named ``x`` of type ``schema`` or raise ``_Retry``."""
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            s.add(indent, f"if {x} is None:")
            s.add(indent + 1, "out.append(0)")
            s.add(indent, "else:")
            s.add(indent + 1, "out.append(2)")
            _emit(schema[1], x, s, indent + 1)
            return
        raise CodecError(f"unions other than [null, X] are not supported: {schema!r}")
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    if kind in ("int", "long") and logical is None:
        low, high = _INT_RANGE if kind == "int" else _LONG_RANGE
        s.add(indent, f"if type({x}) is not int or not {low} <= {x} <= {high}: raise _Retry")
        _emit_varint(x, s, indent)
    elif kind == "long" and logical == "timestamp-micros":
        with _remembered(x, s, indent) as inner:
            d, m = s.name(), s.name()
            s.add(inner, f"if not isinstance({x}, _datetime) or {x}.tzinfo is None: raise _Retry")
            s.add(inner, f"{d} = {x} - _EPOCH")
            s.add(inner, f"{m} = ({d}.days * 86400 + {d}.seconds) * 1000000 + {d}.microseconds")
            low, high = _LONG_RANGE
            s.add(inner, f"if not {low} <= {m} <= {high}: raise _Retry")
            _emit_varint(m, s, inner)
    elif kind == "string":
        d = s.name()
        s.add(indent, f"if not isinstance({x}, str): raise _Retry")
        s.add(indent, f"{d} = {x}.encode()")
        _emit_varint(f"len({d})", s, indent)
        s.add(indent, f"out += {d}")
    elif kind == "boolean":
        s.add(indent, f"if type({x}) is not bool: raise _Retry")
        s.add(indent, f"out.append(1 if {x} else 0)")
    elif kind == "double":
        s.add(indent, f"if type({x}) is not float and type({x}) is not int: raise _Retry")
        s.add(indent, f"out += _pack({x})")
    elif kind == "null":
        s.add(indent, f"if {x} is not None: raise _Retry")
    elif kind == "enum":
        symbol, position = s.name(), s.name()
        index = s.constant({symbol: i for i, symbol in enumerate(schema["symbols"])})
        s.add(indent, f"{symbol} = {x}.value if isinstance({x}, _Enum) else {x}")
        s.add(indent, f"{position} = {index}.get({symbol})")
        s.add(indent, f"if {position} is None: raise _Retry")
        _emit_varint(position, s, indent)
    elif kind == "record":
        for field in schema["fields"]:
            value, name = s.name(), field["name"]
            if name.isidentifier() and not keyword.iskeyword(name):
                s.add(indent, f"{value} = {x}.{name}")
            else:
                s.add(indent, f"{value} = getattr({x}, {name!r})")
            _emit(field["type"], value, s, indent)
    elif logical == "decimal":
        with _remembered(x, s, indent) as inner:
            s.add(inner, f"{s.constant(_compile(schema))}({x}, out)")
    else:  # bytes, arrays, maps: the first form's writer, called
        s.add(indent, f"{s.constant(_compile(schema))}({x}, out)")


@contextlib.contextmanager
def _remembered(x: str, s: Source, indent: int) -> Iterator[int]:
    """Lines that write ``x`` as the lines emitted inside do, unless ``x`` is the very object
    this field wrote last: then its bytes again. Rows share objects (one ingestion time, a
    commission parsed once), and a timestamp or decimal costs more to encode than to compare.
    The memory is one (object, bytes) tuple, replaced whole, so threads may share the writer.
    """
    last, start = s.constant([(WriteMisfitError, b"")]), s.name()
    s.add(indent, f"if {x} is {last}[0][0]: out += {last}[0][1]")
    s.add(indent, "else:")
    s.add(indent + 1, f"{start} = len(out)")
    yield indent + 1
    s.add(indent + 1, f"{last}[0] = ({x}, bytes(out[{start}:]))")


def _emit_varint(n: str, s: Source, indent: int) -> None:
    value = s.name()
    s.add(indent, f"{value} = {n}")
    s.add(indent, f"if -{_SMALL} <= {value} < {_SMALL}: out += _SV[{value} + {_SMALL}]")
    s.add(indent, f"else: _cv({value}, out)")
