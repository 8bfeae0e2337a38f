"""The gate's rules and sizing, as the rules file declares them (``FILLSTREAM_GATE_RULES``).

One ``[[rule]]`` table per rule and one ``[[sizing]]`` table per strategy (or none: the default),
each scoped by ``scope = { account = …, strategy = …, instrument = …, variant = … }`` (a key left
out matches any; an instrument names a contract, ``"NQ 12-26"``, or a root, ``"NQ"``; a variant
lets an experiment's treatment run rules and sizing of its own). ``parse`` checks every
key and value and raises ``GateRulesError`` naming the first wrong one (``rule[2].limit``). The
version is the digest of the file's text, so any change is a new version. Blackout windows come
from files (CSV or ICS) read at the edge and handed in by path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.contracts import root_of
from domain.errors import DomainError
from schemas.events import GateMode

E = TypeVar("E", bound=StrEnum)


class GateRulesError(DomainError):
    """A rules file that cannot be used: ``key`` is the dotted path (``rule[2].limit``)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


class RuleKind(StrEnum):
    MAX_POSITION = "max_position"
    DAILY_LOSS = "daily_loss"
    TRAILING_DRAWDOWN = "trailing_drawdown"
    MAX_TRADES = "max_trades"
    LOSS_COOLDOWN = "loss_cooldown"
    SESSION = "session"
    BLACKOUT = "blackout"
    STALE_DATA = "stale_data"
    DUPLICATE_SIGNAL = "duplicate_signal"
    MIN_REWARD_RISK = "min_reward_risk"
    MIN_CONFIDENCE = "min_confidence"


class SizingMethod(StrEnum):
    FIXED = "fixed"
    FIXED_FRACTION = "fixed_fraction"
    VOLATILITY = "volatility"
    KELLY = "kelly"


class DrawdownFrom(StrEnum):
    """Where a trailing drawdown's high-water mark starts: the session's open, or the account's
    first trade (the prop-firm kind)."""

    DAY = "day"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What a rule, a sizing or a halt applies to; ``variant`` selects a strategy's variant, so
    an experiment's treatment can run rules and sizing of its own."""

    account: str | None = None
    strategy: str | None = None
    instrument: str | None = None
    variant: str | None = None

    def matches(
        self, account: str, strategy: str | None, instrument: str, variant: str | None = None
    ) -> bool:
        return (
            (self.account is None or self.account == account)
            and (self.strategy is None or self.strategy == strategy)
            and (self.instrument is None or _same_contract(self.instrument, instrument))
            and (self.variant is None or self.variant == variant)
        )

    def covers(self, other: Scope) -> bool:
        """Every entry ``other`` matches, this matches too."""
        return (
            (self.account is None or self.account == other.account)
            and (self.strategy is None or self.strategy == other.strategy)
            and (self.instrument is None or self.instrument == other.instrument)
            and (self.variant is None or self.variant == other.variant)
        )

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self._items() if v is not None]
        return ",".join(parts) or "everything"

    def _items(self) -> tuple[tuple[str, str | None], ...]:
        return (("account", self.account), ("strategy", self.strategy),
                ("instrument", self.instrument), ("variant", self.variant))  # fmt: skip


def _same_contract(pattern: str, instrument: str) -> bool:
    return pattern == instrument or (" " not in pattern and pattern == root_of(instrument))


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A blackout window ``[start, end)`` (aware), with what it is for."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hours:
    """A session's hours on its days, in its zone; an end before the start crosses midnight."""

    start: time
    end: time

    def holds(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str
    kind: RuleKind
    scope: Scope
    mode: GateMode = GateMode.ENFORCE
    halt: bool = False
    limit: Decimal | None = None
    """daily_loss, trailing_drawdown: money; max_position: contracts; max_trades: entries;
    loss_cooldown: consecutive losses; stale_data and duplicate_signal: seconds;
    min_reward_risk: a ratio; min_confidence: a probability."""
    minutes: int = 0
    """loss_cooldown: how long entries wait after the last of the losses."""
    drawdown_from: DrawdownFrom = DrawdownFrom.DAY
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Chicago"))
    days: frozenset[int] = frozenset(range(5))
    hours: tuple[Hours, ...] = ()
    windows: tuple[Window, ...] = ()
    padding_minutes: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizing:
    """How a strategy's entries are sized; see ``domain.gate.sizing``."""

    scope: Scope
    method: SizingMethod = SizingMethod.FIXED
    contracts: int | None = None
    """fixed: the quantity (else the strategy's own)."""
    equity: Decimal | None = None
    """fixed_fraction and kelly: the account's equity before its first trade (its realized P&L
    is added)."""
    risk_fraction: Decimal = Decimal("0.01")
    risk_budget: Decimal | None = None
    """volatility: money at risk per entry."""
    atr_multiple: Decimal = Decimal(2)
    atr_period: int = 14
    bar_period: str | None = None
    kelly_fraction: Decimal = Decimal("0.25")
    max_fraction: Decimal = Decimal("0.02")
    min_trades: int = 30
    max_contracts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    rules: tuple[Rule, ...] = ()
    sizing: tuple[Sizing, ...] = ()
    version: str = "sha256:none"
    text: str = ""

    def in_scope(
        self, account: str, strategy: str, instrument: str, variant: str | None = None
    ) -> tuple[Rule, ...]:
        where = (account, strategy, instrument, variant)
        return tuple(r for r in self.rules if r.scope.matches(*where))

    def sizing_for(
        self, account: str, strategy: str, instrument: str, variant: str | None = None
    ) -> Sizing:
        """The first sizing table whose scope matches, else fixed at the strategy's quantity."""
        for sizing in self.sizing:
            if sizing.scope.matches(account, strategy, instrument, variant):
                return sizing
        return Sizing(scope=Scope())


def version_of(text: str, *files: bytes) -> str:
    """``sha256:`` and 16 hex digits of the rules' text and of the files it names, in order."""
    digest = hashlib.sha256(text.encode())
    for content in files:
        digest.update(hashlib.sha256(content).digest())
    return "sha256:" + digest.hexdigest()[:16]


Blackouts = Callable[[str], tuple[Window, ...]]
"""Reads a blackout file named in the rules (a path relative to the rules file)."""


def parse(document: Mapping[str, Any], *, text: str, blackouts: Blackouts) -> Rules:
    """The rules of a parsed TOML document; ``text`` is the file's (for the version)."""
    unknown = sorted(set(document) - {"rule", "sizing"})
    if unknown:
        raise GateRulesError(unknown[0], "is not a section of a rules file (rule, sizing)")
    rules = tuple(
        _rule(f"rule[{i}]", table, blackouts)
        for i, table in enumerate(_tables(document, "rule"), start=1)
    )
    names = [r.name for r in rules]
    for i, name in enumerate(names, start=1):
        if names.index(name) != i - 1:
            raise GateRulesError(f"rule[{i}].name", f"{name!r} names two rules; names are unique")
    sizing = tuple(
        _sizing(f"sizing[{i}]", table) for i, table in enumerate(_tables(document, "sizing"), 1)
    )
    return Rules(rules=rules, sizing=sizing, version=version_of(text), text=text)


def _tables(document: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    tables = document.get(section, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise GateRulesError(section, f"must be an array of tables ([[{section}]])")
    return tables


_RULE_KEYS = {
    "name", "kind", "scope", "mode", "halt", "limit", "minutes", "from", "zone", "days",
    "hours", "file", "before_minutes", "after_minutes",
}  # fmt: skip
_NEEDS_LIMIT = {
    RuleKind.MAX_POSITION, RuleKind.DAILY_LOSS, RuleKind.TRAILING_DRAWDOWN, RuleKind.MAX_TRADES,
    RuleKind.LOSS_COOLDOWN, RuleKind.STALE_DATA, RuleKind.DUPLICATE_SIGNAL,
    RuleKind.MIN_REWARD_RISK, RuleKind.MIN_CONFIDENCE,
}  # fmt: skip
_WHOLE_LIMIT = {RuleKind.MAX_POSITION, RuleKind.MAX_TRADES, RuleKind.LOSS_COOLDOWN}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _rule(at: str, table: Mapping[str, Any], blackouts: Blackouts) -> Rule:
    _known_keys(at, table, _RULE_KEYS)
    kind = _enum(f"{at}.kind", table.get("kind"), RuleKind, required=True)
    assert kind is not None
    mode = _enum(f"{at}.mode", table.get("mode", "enforce"), GateMode)
    if mode is GateMode.UNKNOWN or mode is None:
        raise GateRulesError(f"{at}.mode", "must be enforce or observe, was 'unknown'")
    limit = None
    if kind in _NEEDS_LIMIT:
        limit = _positive(f"{at}.limit", table.get("limit"), whole=kind in _WHOLE_LIMIT)
        if kind is RuleKind.MIN_CONFIDENCE and limit > 1:
            raise GateRulesError(f"{at}.limit", f"must be a probability up to 1, was {limit}")
    elif "limit" in table:
        raise GateRulesError(f"{at}.limit", f"a {kind} rule has no limit")
    name = table.get("name", f"{kind}" if kind else at)
    if not isinstance(name, str) or not name:
        raise GateRulesError(f"{at}.name", "must be a non-empty string")
    fields: dict[str, Any] = {}
    if kind is RuleKind.LOSS_COOLDOWN:
        fields["minutes"] = int(_positive(f"{at}.minutes", table.get("minutes"), whole=True))
    if kind is RuleKind.TRAILING_DRAWDOWN:
        start = _enum(f"{at}.from", table.get("from", "day"), DrawdownFrom)
        fields["drawdown_from"] = start
    if kind is RuleKind.SESSION:
        fields["zone"] = _zone(f"{at}.zone", table.get("zone", "America/Chicago"))
        fields["days"] = _days(f"{at}.days", table.get("days", list(_DAYS[:5])))
        fields["hours"] = _hours(f"{at}.hours", table.get("hours"))
    if kind is RuleKind.BLACKOUT:
        path = table.get("file")
        if not isinstance(path, str) or not path:
            raise GateRulesError(f"{at}.file", "must name a CSV or ICS file of blackout windows")
        try:
            fields["windows"] = blackouts(path)
        except GateRulesError as e:
            raise GateRulesError(f"{at}.file", f"{path}: {e.reason}") from e
        fields["padding_minutes"] = (
            _minutes(f"{at}.before_minutes", table.get("before_minutes", 0)),
            _minutes(f"{at}.after_minutes", table.get("after_minutes", 0)),
        )
    for key in ("minutes", "from", "zone", "days", "hours", "file"):
        if key in table and _owner(key) is not kind:
            raise GateRulesError(f"{at}.{key}", f"is not a key of a {kind} rule")
    halt = table.get("halt", False)
    if not isinstance(halt, bool):
        raise GateRulesError(f"{at}.halt", f"must be true or false, was {halt!r}")
    return Rule(
        name=name,
        kind=kind,
        scope=_scope(f"{at}.scope", table.get("scope", {})),
        mode=mode,
        halt=halt,
        limit=limit,
        **fields,
    )


def _owner(key: str) -> RuleKind:
    return {
        "minutes": RuleKind.LOSS_COOLDOWN,
        "from": RuleKind.TRAILING_DRAWDOWN,
        "zone": RuleKind.SESSION,
        "days": RuleKind.SESSION,
        "hours": RuleKind.SESSION,
        "file": RuleKind.BLACKOUT,
    }[key]


_SIZING_KEYS = {
    "scope", "method", "contracts", "equity", "risk_fraction", "risk_budget", "atr_multiple",
    "atr_period", "bar_period", "kelly_fraction", "max_fraction", "min_trades", "max_contracts",
}  # fmt: skip
_SIZING_NEEDS: dict[SizingMethod, tuple[str, ...]] = {
    SizingMethod.FIXED: (),
    SizingMethod.FIXED_FRACTION: ("equity",),
    SizingMethod.VOLATILITY: ("risk_budget",),
    SizingMethod.KELLY: ("equity",),
}


def _sizing(at: str, table: Mapping[str, Any]) -> Sizing:
    _known_keys(at, table, _SIZING_KEYS)
    method = _enum(f"{at}.method", table.get("method", "fixed"), SizingMethod)
    assert method is not None
    for key in _SIZING_NEEDS[method]:
        if key not in table:
            raise GateRulesError(f"{at}.{key}", f"is required by the {method} sizing")
    fields: dict[str, Any] = {}
    for key in ("equity", "risk_fraction", "risk_budget", "atr_multiple", "kelly_fraction",
                "max_fraction"):  # fmt: skip
        if key in table:
            fields[key] = _positive(f"{at}.{key}", table[key])
    for key in ("contracts", "atr_period", "min_trades", "max_contracts"):
        if key in table:
            fields[key] = int(_positive(f"{at}.{key}", table[key], whole=True))
    for key in ("risk_fraction", "kelly_fraction", "max_fraction"):
        if key in fields and fields[key] > 1:
            raise GateRulesError(f"{at}.{key}", f"must be a fraction up to 1, was {fields[key]}")
    if "bar_period" in table:
        if not isinstance(table["bar_period"], str) or not table["bar_period"]:
            raise GateRulesError(f"{at}.bar_period", "must name a bar period, such as '5 Min'")
        fields["bar_period"] = table["bar_period"]
    return Sizing(scope=_scope(f"{at}.scope", table.get("scope", {})), method=method, **fields)


def _known_keys(at: str, table: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise GateRulesError(
            f"{at}.{unknown[0]}", f"is not a key (known: {', '.join(sorted(known))})"
        )


def _scope(at: str, value: Any) -> Scope:
    if not isinstance(value, dict):
        raise GateRulesError(at, 'must be a table such as { account = "Sim101" }')
    _known_keys(at, value, {"account", "strategy", "instrument", "variant"})
    for key, item in value.items():
        if not isinstance(item, str) or not item:
            raise GateRulesError(f"{at}.{key}", f"must be a non-empty string, was {item!r}")
    return Scope(**value)


def _enum(at: str, value: Any, enum: type[E], *, required: bool = False) -> E | None:
    if value is None and not required:
        return None
    symbols = [m.value for m in enum if m.value != "unknown"]
    if not isinstance(value, str) or value not in symbols:
        raise GateRulesError(at, f"must be one of {', '.join(symbols)}, was {value!r}")
    return enum(value)


def _positive(at: str, value: Any, *, whole: bool = False) -> Decimal:
    if value is None:
        raise GateRulesError(at, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GateRulesError(at, f"must be a number, was {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as e:
        raise GateRulesError(at, f"must be a number, was {value!r}") from e
    if not number.is_finite() or number <= 0:
        raise GateRulesError(at, f"must be positive, was {value}")
    if whole and number != number.to_integral_value():
        raise GateRulesError(at, f"must be a whole number, was {value}")
    return number


def _minutes(at: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GateRulesError(at, f"must be a whole number of minutes, 0 or more, was {value!r}")
    return value


def _zone(at: str, value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise GateRulesError(at, f"is not a time zone (as 'America/Chicago'), was {value!r}") from e


def _days(at: str, value: Any) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise GateRulesError(at, f"must be a list of days such as {list(_DAYS[:5])}")
    days = set()
    for day in value:
        if not isinstance(day, str) or day.lower()[:3] not in _DAYS:
            raise GateRulesError(at, f"{day!r} is not a day (mon, tue, … sun)")
        days.add(_DAYS.index(day.lower()[:3]))
    return frozenset(days)


def _hours(at: str, value: Any) -> tuple[Hours, ...]:
    if not isinstance(value, list) or not value:
        raise GateRulesError(at, 'must be a list of "HH:MM-HH:MM" ranges, such as ["08:30-15:00"]')
    ranges = []
    for item in value:
        try:
            start, end = str(item).split("-")
            ranges.append(Hours(start=time.fromisoformat(start), end=time.fromisoformat(end)))
        except ValueError as e:
            raise GateRulesError(at, f'{item!r} is not a "HH:MM-HH:MM" range') from e
    return tuple(ranges)


def parse_windows(rows: Sequence[tuple[str, str, str]], *, zone: ZoneInfo) -> tuple[Window, ...]:
    """Blackout windows from CSV rows (start, end, label); a time without an offset is in
    ``zone``. Raises ``GateRulesError`` naming the line."""
    windows = []
    for line, (start, end, label) in enumerate(rows, start=2):
        try:
            begins, ends = (_moment(start, zone), _moment(end, zone))
        except ValueError as e:
            raise GateRulesError(f"line {line}", f"not an ISO time ({e})") from e
        if ends <= begins:
            raise GateRulesError(f"line {line}", f"ends ({end}) before it starts ({start})")
        windows.append(Window(start=begins, end=ends, label=label))
    return tuple(sorted(windows, key=lambda w: w.start))


def _moment(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
