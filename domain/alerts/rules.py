"""The alert rules file (TOML or YAML), validated at start (``parse_rules`` of the document
``core.config_files.load_file`` reads).

A file holds ``[[rules]]`` (what to watch, evaluated by ``domain.alerts.engine`` in event time),
``[channels.<name>]`` (where to deliver, read by ``alerts.channels``), ``[delivery]`` (the
notifier's repeat interval) and ``[reports]`` (which channels receive the scheduled daily summary
and weekly review, and when: ``ReportRoutes``). Every mistake is a ``ConfigError`` naming its
place in the file (``rules[2].limit``) and what was wrong, before anything runs.

Rule types, what they read and when they hold:

============== =================== ===============================================================
type           reads               holds while
============== =================== ===============================================================
drawdown       all-time snapshots  current drawdown > ``limit`` (currency)
daily_loss     trading-day snaps.  the day's net profit ≤ -``limit``; ends when the day ends
loss_streak    all-time snapshots  current losing streak ≥ ``count`` trades
win_rate       last-trades snaps.  rolling win rate < ``baseline`` - ``drop`` (≥ ``min_trades``)
feed_silent    bridge checks       a NinjaTrader connection's last heartbeat > ``seconds`` old
consumer_lag   health checks       a process's worst partition > ``records`` behind
error_rate     health checks       rejected or dead-lettered events > ``per_minute``
rebuild_failed health checks       a projection rebuild failed (until one succeeds)
accuracy       health checks       a projection's data accuracy (``fillstream verify --record``:
                                   its share of rows identical to a rebuild's) < ``min`` (99.9 %)
recovery_stall worker checks       state recovery has not advanced for ``seconds``
stage_stall    worker checks       records have waited ``seconds`` (30 s) for a stage's progress
unhealthy      health checks       a process reports a readiness check failing
position_drift position drifts     NinjaTrader's position of an account and instrument and the
                                   derived one disagree (``derived.reconciliation``), until they
                                   agree again
============== =================== ===============================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from schemas.events import MetricScope, Severity


class RuleType(StrEnum):
    DRAWDOWN = "drawdown"
    DAILY_LOSS = "daily_loss"
    LOSS_STREAK = "loss_streak"
    WIN_RATE = "win_rate"
    FEED_SILENT = "feed_silent"
    CONSUMER_LAG = "consumer_lag"
    ERROR_RATE = "error_rate"
    REBUILD_FAILED = "rebuild_failed"
    ACCURACY = "accuracy"
    RECOVERY_STALL = "recovery_stall"
    STAGE_STALL = "stage_stall"
    UNHEALTHY = "unhealthy"
    POSITION_DRIFT = "position_drift"


PERFORMANCE_RULES = frozenset(
    {RuleType.DRAWDOWN, RuleType.DAILY_LOSS, RuleType.LOSS_STREAK, RuleType.WIN_RATE}
)
"""Rules over ``derived.performance``."""

RECONCILIATION_RULES = frozenset({RuleType.POSITION_DRIFT})
"""Rules over ``derived.reconciliation``; the others read the ``health`` topic."""

_PARAMETERS: dict[RuleType, dict[str, str]] = {
    RuleType.DRAWDOWN: {"limit": "amount"},
    RuleType.DAILY_LOSS: {"limit": "amount"},
    RuleType.LOSS_STREAK: {"count": "count"},
    RuleType.WIN_RATE: {"baseline": "share", "drop": "share?", "min_trades": "count?"},
    RuleType.FEED_SILENT: {"seconds": "seconds?"},
    RuleType.CONSUMER_LAG: {"records": "count"},
    RuleType.ERROR_RATE: {"per_minute": "amount"},
    RuleType.REBUILD_FAILED: {},
    RuleType.ACCURACY: {"min": "share?"},
    RuleType.RECOVERY_STALL: {"seconds": "seconds?"},
    RuleType.STAGE_STALL: {"seconds": "seconds?"},
    RuleType.UNHEALTHY: {"seconds": "seconds?"},
    RuleType.POSITION_DRIFT: {},
}
"""Each type's own settings and their kinds (``?``: optional, with the default below)."""

_DEFAULTS: dict[str, Any] = {
    "drop": 0.15,
    "min_trades": 20,
    "seconds": 60.0,
    "min": 0.999,
}

_TYPE_DEFAULTS: dict[RuleType, dict[str, Any]] = {
    RuleType.STAGE_STALL: {"seconds": 30.0},
}
"""Where a type's default differs from ``_DEFAULTS``: a stalled stage is raised within a minute
(the worker reports the moment a stage stalls, ``FILLSTREAM_STALL_SECONDS`` after its last
progress)."""

_COMMON = frozenset(
    {"name", "type", "severity", "scope", "accounts", "services", "labels", "mute", "active"}
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class Session:
    """A daily time range in a time zone, on some weekdays; a range whose end is before its
    start runs overnight and belongs to the day it starts on (``17:00-16:00``, Sunday to
    Thursday, is CME's Globex week)."""

    start: time
    end: time
    timezone: ZoneInfo
    days: frozenset[int]
    """Weekdays, Monday = 0."""

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        now, day = local.time(), local.weekday()
        if self.start <= self.end:
            return day in self.days and self.start <= now < self.end
        if now >= self.start:
            return day in self.days
        return now < self.end and (day - 1) % 7 in self.days


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str
    type: RuleType
    severity: Severity
    scope: MetricScope = MetricScope.ACCOUNT
    """For performance rules: which snapshots (account, strategy, variant, instrument)."""
    accounts: frozenset[str] = frozenset()
    """Only these accounts (empty: all)."""
    services: frozenset[str] = frozenset()
    """For health rules: only these services (empty: all)."""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    mute: tuple[Session, ...] = ()
    """The rule raises nothing while an event's time is in one of these."""
    active: tuple[Session, ...] = ()
    """If given, the rule raises only while an event's time is in one of these."""

    @property
    def performance(self) -> bool:
        return self.type in PERFORMANCE_RULES

    @property
    def reconciliation(self) -> bool:
        return self.type in RECONCILIATION_RULES

    @property
    def health(self) -> bool:
        return not self.performance and not self.reconciliation

    def muted_at(self, at: datetime) -> bool:
        if any(session.contains(at) for session in self.mute):
            return True
        return bool(self.active) and not any(session.contains(at) for session in self.active)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRoutes:
    """``[reports]``: the channels the notifier sends the scheduled reports to, and when."""

    daily: tuple[str, ...] = ()
    """Channels of the daily summary, sent ``delay`` after each trading day's session ends."""
    weekly: tuple[str, ...] = ()
    """Channels of the weekly review, sent ``delay`` after the week's last session ends."""
    delay: timedelta = timedelta(minutes=10)
    catch_up: timedelta = timedelta(days=3)
    """A report the notifier could not send at its time (it was down) is sent late when it
    comes back, within this long of its time; an older one is recorded as skipped."""
    baseline: str | None = None
    """The baseline the reports compare with (``fillstream baseline freeze``)."""
    link: str | None = None
    """The read API's address as its readers reach it (``https://fillstream.example.com``): the
    reports' links start with it. Default: this machine's read API."""
    holidays: frozenset[date] = frozenset()
    """Days the exchange does not trade: no daily summary, and a week's review follows its
    last session."""
    account: str | None = None
    """Only this account's trades (default: every account's)."""

    def routes(self, kind: str) -> tuple[str, ...]:
        return self.daily if kind == "daily" else self.weekly


EMPTY_REPORTS = ReportRoutes()


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The ``[channels.<name>]`` tables as written (``alerts.channels`` validates them)."""
    repeat_seconds: float = 4 * 3600.0
    """The notifier re-sends an alert still raised after this long (0: never)."""
    group_seconds: float = 0.0
    """The notifier sends the alerts of one rule and state raised within this long of the
    first as one notification per channel (0: each alone)."""
    reports: ReportRoutes = EMPTY_REPORTS


EMPTY = RuleSet()


def parse_rules(document: Any) -> RuleSet:
    """A rule set from a parsed rules file; see the module docstring."""
    top = _table(document, "(the file)")
    _known(top, {"rules", "channels", "delivery", "reports"}, "")
    rules = top.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError("rules", f"must be a list of rules ([[rules]]), was {_shown(rules)}")
    parsed = tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules))
    seen: set[str] = set()
    for i, rule in enumerate(parsed):
        if rule.name in seen:
            raise ConfigError(f"rules[{i}].name", f"{rule.name!r} is used by an earlier rule")
        seen.add(rule.name)
    channels = _table(top.get("channels", {}), "channels")
    for name, table in channels.items():
        _table(table, f"channels.{name}")
    reports = _reports(_table(top.get("reports", {}), "reports"), channels)
    delivery = _table(top.get("delivery", {}), "delivery")
    _known(delivery, {"repeat_interval", "group_wait"}, "delivery")
    repeat = delivery.get("repeat_interval", "4h")
    return RuleSet(
        rules=parsed,
        channels=channels,
        repeat_seconds=parse_duration(repeat, "delivery.repeat_interval", allow_zero=True),
        group_seconds=parse_duration(
            delivery.get("group_wait", 0), "delivery.group_wait", allow_zero=True
        ),
        reports=reports,
    )


_REPORT_CHANNELS = ("email", "webhook")
"""The channel types a report can go through: e-mail carries it whole, a webhook its headline
and a link."""


def _reports(table: Mapping[str, Any], channels: Mapping[str, Any]) -> ReportRoutes:
    _known(table, {"daily", "weekly", "delay", "catch_up", "baseline", "link", "holidays",
                   "account"}, "reports")  # fmt: skip
    routes = {}
    for kind in ("daily", "weekly"):
        names = table.get(kind, [])
        where = f"reports.{kind}"
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(where, f"must be a list of channel names, was {_shown(names)}")
        for name in names:
            if name not in channels:
                known = ", ".join(sorted(channels)) or "none"
                raise ConfigError(where, f"names no channel {name!r} (channels: {known})")
            kind_of = channels[name].get("type") if isinstance(channels[name], dict) else None
            if kind_of not in _REPORT_CHANNELS:
                raise ConfigError(
                    where, f"{name!r} is a {kind_of} channel: reports go by email or webhook"
                )
        if len(set(names)) != len(names):
            raise ConfigError(where, f"names a channel twice: {names!r}")
        routes[kind] = tuple(names)
    delay = parse_duration(table.get("delay", "10m"), "reports.delay", allow_zero=True)
    if delay >= 7 * 86400:
        raise ConfigError("reports.delay", "must be less than 7 days after the session's close")
    catch_up = parse_duration(table.get("catch_up", "3d"), "reports.catch_up", allow_zero=True)
    link = table.get("link")
    if link is not None and (not isinstance(link, str)
                             or not re.match(r"^https?://[^/\s]+/?$", link)):  # fmt: skip
        raise ConfigError(
            "reports.link",
            "must be the read API's address, like https://fillstream.example.com, was "
            f"{_shown(link)}",
        )
    holidays = table.get("holidays", [])
    if not isinstance(holidays, list):
        raise ConfigError("reports.holidays", f"must be a list of days, was {_shown(holidays)}")
    days = set()
    for i, day in enumerate(holidays):
        try:
            days.add(day if isinstance(day, date) else date.fromisoformat(day))
        except (TypeError, ValueError):
            raise ConfigError(
                f"reports.holidays[{i}]", f"must be a day like 2026-12-25, was {_shown(day)}"
            ) from None
    for key in ("baseline", "account"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"reports.{key}", f"must be a name, was {_shown(value)}")
    return ReportRoutes(
        daily=routes["daily"], weekly=routes["weekly"], delay=timedelta(seconds=delay),
        catch_up=timedelta(seconds=catch_up), baseline=table.get("baseline"),
        link=link.rstrip("/") if isinstance(link, str) else None, holidays=frozenset(days),
        account=table.get("account"),
    )  # fmt: skip


def _rule(value: Any, where: str) -> Rule:
    table = _table(value, where)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{where}.name", f"must be letters, digits, '_', '.' or '-', was {_shown(name)}"
        )
    kind = _choice(table.get("type"), RuleType, f"{where}.type")
    _known(table, _COMMON | set(_PARAMETERS[kind]), where)
    parameters = {}
    for key, spec in _PARAMETERS[kind].items():
        optional = spec.endswith("?")
        if key not in table:
            if not optional:
                raise ConfigError(f"{where}.{key}", f"is required for a {kind.value} rule")
            parameters[key] = _TYPE_DEFAULTS.get(kind, {}).get(key, _DEFAULTS[key])
            continue
        parameters[key] = _parameter(table[key], spec.rstrip("?"), f"{where}.{key}")
    scope = _choice(table.get("scope", "account"), MetricScope, f"{where}.scope")
    if kind in PERFORMANCE_RULES and scope in (MetricScope.UNKNOWN, MetricScope.REGIME):
        raise ConfigError(f"{where}.scope", "must be account, strategy, variant or instrument")
    if kind not in PERFORMANCE_RULES and "scope" in table:
        raise ConfigError(f"{where}.scope", f"applies to performance rules, not {kind.value}")
    severity = _choice(table.get("severity", "warning"), Severity, f"{where}.severity")
    if severity is Severity.UNKNOWN:
        raise ConfigError(f"{where}.severity", "must be info, warning or critical")
    labels = _table(table.get("labels", {}), f"{where}.labels")
    for key, label in labels.items():
        if not isinstance(label, str):
            raise ConfigError(f"{where}.labels.{key}", f"must be text, was {_shown(label)}")
    return Rule(
        name=name,
        type=kind,
        severity=severity,
        scope=scope,
        accounts=_names(table.get("accounts", []), f"{where}.accounts"),
        services=_names(table.get("services", []), f"{where}.services"),
        parameters=parameters,
        labels=dict(labels),
        mute=_sessions(table.get("mute", []), f"{where}.mute"),
        active=_sessions(table.get("active", []), f"{where}.active"),
    )


def _parameter(value: Any, kind: str, where: str) -> Any:
    if kind == "amount":
        try:
            amount = Decimal(str(value)) if isinstance(value, (int, float, str)) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0 or isinstance(value, bool):
            raise ConfigError(where, f"must be a positive number, was {_shown(value)}")
        return amount
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(where, f"must be a whole number of at least 1, was {_shown(value)}")
        return value
    if kind == "share":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ConfigError(where, f"must be a number between 0 and 1, was {_shown(value)}")
        return float(value)
    return parse_duration(value, where, allow_zero=False)


def parse_duration(value: Any, where: str, *, allow_zero: bool) -> float:
    """``90``, ``"90s"``, ``"5m"``, ``"4h"`` or ``"1d"`` as seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ConfigError(where, f"must be a duration like 90s, 5m or 4h, was {_shown(value)}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(where, f"must be a positive duration, was {_shown(value)}")
    return seconds


def _sessions(value: Any, where: str) -> tuple[Session, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_session(item, f"{where}[{i}]") for i, item in enumerate(items))


def _session(value: Any, where: str) -> Session:
    table = _table(value, where)
    _known(table, {"between", "timezone", "days"}, where)
    between = table.get("between")
    parts = between.split("-") if isinstance(between, str) else []
    try:
        start, end = (time.fromisoformat(part.strip()) for part in parts)
        valid = start != end
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(
            f"{where}.between", f"must be two times like 15:10-15:20, was {_shown(between)}"
        )
    zone = table.get("timezone", "UTC")
    try:
        timezone = ZoneInfo(zone) if isinstance(zone, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        timezone = None
    if timezone is None:
        raise ConfigError(
            f"{where}.timezone", f"must be an IANA time zone like America/Chicago, was {zone!r}"
        )
    days = table.get("days", list(_DAYS))
    if not isinstance(days, list) or not days or any(d not in _DAYS for d in days):
        raise ConfigError(f"{where}.days", f"must list days of {', '.join(_DAYS)}, was {days!r}")
    return Session(start, end, timezone, frozenset(_DAYS.index(d) for d in days))


def _names(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(where, f"must be a list of names, was {_shown(value)}")
    return frozenset(value)


E = TypeVar("E", bound=StrEnum)


def _choice(value: Any, kind: type[E], where: str) -> E:
    symbols = [member.value for member in kind if member.value != "unknown"]
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(
            where, f"must be one of {', '.join(symbols)}, was {_shown(value)}"
        ) from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(where, f"must be a table of settings, was {_shown(value)}")
    return value


def _known(table: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            place = f"{where}.{key}" if where else key
            raise ConfigError(place, f"is not a setting here (known: {', '.join(sorted(allowed))})")


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)
