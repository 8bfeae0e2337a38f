"""What the read API asks of the control plane, without importing it (the data plane's packages
stay independent): the experiments as ``fillstream experiments`` shows them, and the changes a
page may make, each recorded as the same event the CLI records. ``fillstream api`` passes an
implementation (``fillstream/dashboard.py``); the calls block, so the server runs them on a
thread."""

from __future__ import annotations

from typing import Any, Protocol

ACTOR = "dashboard"
"""Who the changes made in the page are recorded as."""

EXPERIMENT_ACTIONS = ("pause", "resume", "rollback", "promote")
SWITCH_ACTIONS = ("kill", "revive")


class ControlError(Exception):
    """A change the control plane refused, with the reason (shown to the user as given)."""


class Control(Protocol):
    def experiments(self) -> list[dict[str, Any]]:
        """Every experiment: id, strategy, status, step, share, and the kill switch."""
        ...

    def experiment(self, experiment_id: str) -> dict[str, Any]:
        """One experiment's report as ``fillstream experiments show --json`` prints it, with its
        history; ``KeyError`` for an unknown id."""
        ...

    def change_experiment(self, experiment_id: str, action: str, reason: str) -> dict[str, Any]:
        """Pause, resume, roll back or promote it (``EXPERIMENT_ACTIONS``)."""
        ...

    def switch(self, action: str, reason: str) -> dict[str, Any]:
        """The kill switch: ``kill`` or ``revive``."""
        ...

    def pipeline(self) -> dict[str, Any]:
        """The consumer groups' lag (``groups``: group, state, members, lag) and the
        projector's ingest-to-projection latency per projection (``latency``: projection,
        count, p50 and p99 as the upper bounds of their histogram buckets, in seconds)."""
        ...

    def silences(self) -> list[dict[str, Any]]:
        """The silences in force."""
        ...

    def silence(self, matchers: dict[str, str], seconds: int, comment: str) -> dict[str, Any]:
        """Hold the alerts matching every label in ``matchers`` back for ``seconds``."""
        ...

    def unsilence(self, silence_id: str) -> dict[str, Any]:
        """End a silence now; ``KeyError`` for one not in force."""
        ...
