"""Grouping: alerts of one rule and state that come within ``group_wait`` of the first go out as
one notification per channel (ten accounts hitting their daily loss at once make one message,
not ten). Pure: the notifier adds what it claimed and sends what is due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from schemas.events import AlertChanged, Severity

_ORDER = (Severity.UNKNOWN, Severity.INFO, Severity.WARNING, Severity.CRITICAL)


@dataclass(frozen=True, slots=True)
class Due:
    """What to send to ``channel``: one alert, or several of one rule and state."""

    channel: str
    alerts: tuple[AlertChanged, ...]


@dataclass(slots=True)
class _Group:
    opened: float
    members: list[tuple[AlertChanged, tuple[str, ...]]] = field(default_factory=list)


class Grouper:
    """Collects claimed alerts by rule and state for ``wait`` seconds from the first of each."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self._open: dict[tuple[str, str], _Group] = {}

    def add(self, alert: AlertChanged, channels: Sequence[str], now: float) -> None:
        group = self._open.setdefault((alert.rule, alert.state.value), _Group(now))
        group.members.append((alert, tuple(channels)))

    def due(self, now: float) -> list[Due]:
        """The groups open for ``wait`` seconds or more, per channel, closed."""
        ready = [key for key, group in self._open.items() if now - group.opened >= self.wait]
        return [d for key in ready for d in _per_channel(self._open.pop(key))]

    def flush(self) -> list[Due]:
        """Every open group, closed (the notifier is stopping)."""
        groups, self._open = list(self._open.values()), {}
        return [d for group in groups for d in _per_channel(group)]


def _per_channel(group: _Group) -> list[Due]:
    channels: dict[str, list[AlertChanged]] = {}
    for alert, names in group.members:
        for name in names:
            channels.setdefault(name, []).append(alert)
    return [Due(name, tuple(alerts)) for name, alerts in channels.items()]


def combined(alerts: Sequence[AlertChanged]) -> AlertChanged:
    """One notification for several alerts of one rule and state: the first one's identity
    and time, the gravest severity, every key and every summary."""
    first = alerts[0]
    keys = [a.key for a in alerts]
    return replace(
        first,
        key=f"{len(alerts)} alerts: {', '.join(keys)}",
        severity=max((a.severity for a in alerts), key=_ORDER.index),
        summary="\n".join(a.summary for a in alerts),
        labels={"rule": first.rule, "grouped": str(len(alerts)), "keys": "; ".join(keys)},
    )
