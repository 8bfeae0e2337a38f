"""Which alerts a channel receives: some severities only, and resolutions or not."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import AlertChanged, AlertState, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    severities: frozenset[Severity] | None = None
    """The severities the channel receives; None: every one."""
    resolved: bool = True
    """Whether the channel is told when an alert resolves."""

    def wants(self, alert: AlertChanged) -> bool:
        if alert.state is AlertState.RESOLVED and not self.resolved:
            return False
        return self.severities is None or alert.severity in self.severities


EVERYTHING = Routing()
