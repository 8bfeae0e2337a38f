"""JSON events from NinjaTrader (or curl) → validated event dataclasses. Pure: no I/O.

Each JSON object names its ``type``; the other keys are the event's fields, with the envelope's
``ts_event``, ``source``, ``producer`` and optional ``event_id`` at the top level. Every problem is
reported at once, each naming the field (``[3].price``) and the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Union

from core.errors import InvalidEventError, InvalidEventsError
from domain.gate.decide import Proposal
from schemas.events import (
    BarClosed,
    BridgeHeartbeat,
    Direction,
    Envelope,
    Event,
    EventId,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    GateAction,
    GateChanged,
    InstrumentDefined,
    OrderUpdated,
    PositionUpdated,
    SignalEmitted,
    Source,
)

EVENT_CLASSES: dict[str, type[Any]] = {
    "execution": ExecutionReported,
    "order": OrderUpdated,
    "position": PositionUpdated,
    "signal": SignalEmitted,
    "bar": BarClosed,
    "heartbeat": BridgeHeartbeat,
    "execution_corrected": ExecutionCorrected,
    "execution_busted": ExecutionBusted,
    "instrument": InstrumentDefined,
    "flattened": GateChanged,
}
"""Ingestible event classes by their JSON ``type``. ``flattened`` (the add-on closed an account's
positions on a gate halt) takes ``account``, ``halt_id``, ``instruments`` and ``reason`` and is
logged as a ``GateChanged`` of action ``flattened`` on ``control.gate``, its producer the actor."""

_FLATTENED_FIELDS: dict[str, tuple[Any, bool]] = {
    "account": (str, True),
    "halt_id": (str, True),
    "instruments": (tuple[str, ...], False),
    "reason": (str, False),
}

MAX_DECIMAL_PLACES = 10
_MAX_DECIMAL = Decimal(10) ** 17
_ENVELOPE_KEYS = {"type", "ts_event", "source", "producer", "event_id"}

# Field rules beyond the types: (class, field) -> check returning a reason or None.
_Rule = Callable[[Any], str | None]


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be positive, was {value}"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must not be negative, was {value}"


def _known(value: Any) -> str | None:
    return None if value != "unknown" else "must be given (was 'unknown')"


def _root(value: Any) -> str | None:
    text = str(value)
    if text != text.strip().upper() or " " in text:
        return f"must be an upper-case root without spaces (as 'NQ' of 'NQ 12-26'), was {text!r}"
    return None


def _currency(value: Any) -> str | None:
    text = str(value)
    if len(text) != 3 or not text.isascii() or not text.isalpha() or not text.isupper():
        return f"must be an ISO 4217 code such as USD, was {text!r}"
    return None


def _unit_interval(value: Any) -> str | None:
    return None if 0 <= value <= 1 else f"must be between 0 and 1, was {value}"


_RULES: dict[tuple[type[Any], str], _Rule] = {
    (ExecutionReported, "quantity"): _positive,
    (ExecutionReported, "price"): _positive,
    (ExecutionReported, "commission"): _not_negative,
    (ExecutionReported, "fees"): _not_negative,
    (ExecutionReported, "side"): _known,
    (ExecutionCorrected, "quantity"): _positive,
    (ExecutionCorrected, "price"): _positive,
    (ExecutionCorrected, "commission"): _not_negative,
    (ExecutionCorrected, "fees"): _not_negative,
    (ExecutionCorrected, "side"): _known,
    (InstrumentDefined, "tick_size"): _positive,
    (InstrumentDefined, "point_value"): _positive,
    (InstrumentDefined, "root"): _root,
    (InstrumentDefined, "currency"): _currency,
    (OrderUpdated, "quantity"): _positive,
    (OrderUpdated, "filled"): _not_negative,
    (OrderUpdated, "side"): _known,
    (PositionUpdated, "quantity"): _not_negative,
    (SignalEmitted, "direction"): _known,
    (SignalEmitted, "confidence"): _unit_interval,
    (BarClosed, "volume"): _not_negative,
    (BarClosed, "open"): _positive,
    (BarClosed, "high"): _positive,
    (BarClosed, "low"): _positive,
    (BarClosed, "close"): _positive,
    (BridgeHeartbeat, "sequence"): _not_negative,
}


def loads(body: bytes | str) -> Any:
    """Parse a request body; numbers become exact ``Decimal``s (never binary floats)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidEventError("body", f"is not valid JSON ({e})") from None


def parse_events(document: Any, *, ts_ingested: datetime, producer: str) -> list[Event]:
    """A JSON document (one object or an array of them) → events; all valid or nothing.

    Raises ``InvalidEventsError`` listing every bad field of every event.
    """
    batch = isinstance(document, list)
    items = document if batch else [document]
    if batch and not items:
        raise InvalidEventsError([InvalidEventError("body", "is an empty array")])
    events: list[Event] = []
    errors: list[InvalidEventError] = []
    for index, item in enumerate(items):
        prefix = f"[{index}]." if batch else ""
        try:
            events.append(parse_event(item, ts_ingested=ts_ingested, producer=producer))
        except InvalidEventsError as e:
            errors += [InvalidEventError(prefix + err.field, err.reason) for err in e.errors]
    if errors:
        raise InvalidEventsError(errors)
    return events


def parse_event(item: Any, *, ts_ingested: datetime, producer: str) -> Event:
    """One JSON object → one event, or ``InvalidEventsError`` naming each bad field."""
    if not isinstance(item, Mapping):
        raise InvalidEventsError([InvalidEventError("event", "must be a JSON object")])
    kind = item.get("type")
    cls = EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(EVENT_CLASSES)
        raise InvalidEventsError(
            [InvalidEventError("type", f"must be one of {known}, was {kind!r}")]
        )
    errors: list[InvalidEventError] = []
    fields = _FLATTENED_FIELDS if cls is GateChanged else _fields(cls)
    values: dict[str, Any] = {}
    for name, (hint, required) in fields.items():
        if name not in item or item[name] is None:
            if required:
                errors.append(InvalidEventError(name, "is required"))
            continue
        try:
            value = _coerce(hint, item[name])
            rule = _RULES.get((cls, name))
            reason = rule(value) if rule else None
            if reason:
                raise InvalidEventError(name, reason)
            values[name] = value
        except InvalidEventError as e:
            errors.append(InvalidEventError(name, e.reason))
    for name in item:
        if name not in fields and name not in _ENVELOPE_KEYS:
            errors.append(InvalidEventError(name, f"is not a field of a {kind} event"))
    envelope = _envelope(str(kind), item, values, ts_ingested, producer, errors)
    if errors:
        raise InvalidEventsError(errors)
    if cls is GateChanged:
        return GateChanged(envelope=envelope, action=GateAction.FLATTENED,
                           actor=envelope.producer, **values)  # fmt: skip
    event: Event = cls(envelope=envelope, **values)
    return event


def _fields(cls: type[Any]) -> dict[str, tuple[Any, bool]]:
    """An event class's fields (but the envelope): type hint and whether it is required."""
    cached = _FIELDS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    _FIELDS[cls] = {
        f.name: (
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.name != "envelope"
    }
    return _FIELDS[cls]


_FIELDS: dict[type[Any], dict[str, tuple[Any, bool]]] = {}


def _envelope(
    kind: str,
    item: Mapping[str, Any],
    values: Mapping[str, Any],
    ts_ingested: datetime,
    producer: str,
    errors: list[InvalidEventError],
) -> Envelope:
    ts_event = ts_ingested
    if "ts_event" not in item:
        errors.append(
            InvalidEventError(
                "ts_event", "is required (ISO 8601 with offset, e.g. 2026-09-22T13:35:12.5Z)"
            )
        )
    else:
        try:
            ts_event = _timestamp(item["ts_event"])
        except InvalidEventError as e:
            errors.append(InvalidEventError("ts_event", e.reason))
    source = Source.LIVE
    if "source" in item:
        try:
            source = Source(_enum(Source, item["source"]))
        except InvalidEventError as e:
            errors.append(InvalidEventError("source", e.reason))
    event_producer = item.get("producer", producer)
    if not isinstance(event_producer, str) or not event_producer:
        errors.append(InvalidEventError("producer", "must be a non-empty string"))
        event_producer = producer
    event_id = item.get("event_id") or derive_event_id(kind, item, values)
    if not isinstance(event_id, str):
        errors.append(InvalidEventError("event_id", "must be a string"))
        event_id = ""
    return Envelope(
        event_id=EventId(event_id),
        ts_event=ts_event,
        ts_ingested=ts_ingested,
        source=source,
        producer=event_producer,
    )


def derive_event_id(kind: str, item: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """A deterministic id, so a re-sent event keeps its identity.

    Executions: from account and NinjaTrader's execution id (a re-sent fill is the same fill
    however it is formatted). Busts: likewise (an execution is removed once). Corrections: from
    the execution and what it was amended to, not when the amendment was seen. Other events:
    from their full content.
    """
    if kind == "execution" and "execution_id" in values and "account" in values:
        basis = f"execution|{values['account']}|{values['execution_id']}"
        return "x-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    if kind == "execution_busted" and "execution_id" in values and "account" in values:
        basis = f"busted|{values['account']}|{values['execution_id']}"
        return "b-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    if kind == "execution_corrected" and "execution_id" in values and "account" in values:
        amended = {k: v for k, v in item.items() if k not in ("ts_event", "producer", "reason")}
        canonical = json.dumps(amended, sort_keys=True, default=str, separators=(",", ":"))
        return "c-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    canonical = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
    return "e-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _coerce(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise InvalidEventError("", f"must be an array, was {type(value).__name__}")
        (item_hint, _) = typing.get_args(hint)
        return tuple(_coerce(item_hint, v) for v in value)
    if origin is Mapping or hint is Mapping:
        if not isinstance(value, Mapping):
            raise InvalidEventError("", f"must be an object, was {type(value).__name__}")
        return {str(k): _float(v) for k, v in value.items()}
    base = getattr(hint, "__supertype__", hint)
    if isinstance(base, type) and issubclass(base, StrEnum):
        return _enum(base, value)
    if base is Decimal:
        return _decimal(value)
    if base is datetime:
        return _timestamp(value)
    if base is int:
        return _int(value)
    if base is float:
        return _float(value)
    if base is str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidEventError("", "must be a non-empty string")
        return value
    raise TypeError(f"no JSON coercion for {hint!r}")  # a schema/dataclass mismatch: a bug


def _enum(cls: type[StrEnum], value: Any) -> StrEnum:
    if isinstance(value, str):
        lowered = value.strip().lower()
        for member in cls:
            if member.value == lowered:
                return member
    allowed = ", ".join(m.value for m in cls if m.value != "unknown")
    raise InvalidEventError("", f"must be one of {allowed}, was {value!r}")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise InvalidEventError("", f"must be a decimal number or a string of one, was {value!r}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise InvalidEventError("", f"must be a decimal number, was {value!r}") from None
    if not number.is_finite():
        raise InvalidEventError("", f"must be finite, was {value!r}")
    if abs(number) >= _MAX_DECIMAL:
        raise InvalidEventError("", f"is out of range, was {value!r}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise InvalidEventError(
            "", f"has more than {MAX_DECIMAL_PLACES} decimal places, was {value!r}"
        )
    return number


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidEventError("", f"must be an integer, was {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        number = int(value)
    else:
        raise InvalidEventError("", f"must be an integer, was {value!r}")
    if not -(2**31) <= number < 2**31:
        raise InvalidEventError("", f"is out of range, was {value!r}")
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise InvalidEventError("", f"must be a number, was {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidEventError("", f"must be finite, was {value!r}")
    return number


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidEventError("", f"must be an ISO 8601 timestamp string, was {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEventError("", f"must be an ISO 8601 timestamp, was {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidEventError("", f"must carry a UTC offset or Z, was {value!r}")
    moment = moment.astimezone(UTC)
    if not 1970 <= moment.year < 2100:
        raise InvalidEventError("", f"is out of range, was {value!r}")
    return moment


_PROPOSAL_TEXT = ("signal_id", "account", "instrument", "strategy")
_PROPOSAL_PRICES = ("entry_price", "intended_stop", "intended_target")
_PROPOSAL_FIELDS = {*_PROPOSAL_TEXT, *_PROPOSAL_PRICES, "variant", "direction", "confidence",
                    "quantity"}  # fmt: skip
MAX_PROPOSED_QUANTITY = 10_000


def parse_proposal(document: Any) -> Proposal:
    """A proposed entry (``POST /v1/decisions``) from its JSON object; every problem at once as
    ``InvalidEventsError``, each naming the field."""
    if not isinstance(document, dict):
        raise InvalidEventsError([InvalidEventError("body", "must be a JSON object")])
    errors: list[InvalidEventError] = []
    values: dict[str, Any] = {}

    def field(name: str, read: Callable[[Any], Any], *, required: bool = True) -> None:
        value = document.get(name)
        if value is None:
            if required:
                errors.append(InvalidEventError(name, "is required"))
            return
        try:
            values[name] = read(value)
        except InvalidEventError as e:
            errors.append(InvalidEventError(name, e.reason))

    for name in _PROPOSAL_TEXT:
        field(name, _text)
    field("variant", _text, required=False)
    field("direction", _direction)
    field("entry_price", _price)
    field("intended_stop", _price, required=False)
    field("intended_target", _price, required=False)
    field("confidence", _probability, required=False)
    field("quantity", _quantity)
    errors.extend(
        InvalidEventError(name, "is not a field of a decision request")
        for name in sorted(set(document) - _PROPOSAL_FIELDS)
    )
    if errors:
        raise InvalidEventsError(errors)
    return Proposal(**values)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError("", f"must be a non-empty string, was {value!r}")
    return value


def _direction(value: Any) -> Direction:
    if value not in ("long", "short"):
        raise InvalidEventError("", f"must be long or short, was {value!r}")
    return Direction(value)


def _price(value: Any) -> Decimal:
    number = _decimal(value)
    if number <= 0:
        raise InvalidEventError("", f"must be positive, was {value}")
    return number


def _probability(value: Any) -> float:
    number = _float(value)
    if not 0 <= number <= 1:
        raise InvalidEventError("", f"must be between 0 and 1, was {value}")
    return number


def _quantity(value: Any) -> int:
    number = _int(value)
    if not 0 < number <= MAX_PROPOSED_QUANTITY:
        raise InvalidEventError("", f"must be from 1 to {MAX_PROPOSED_QUANTITY}, was {value}")
    return number
