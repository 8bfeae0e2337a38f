"""The project's error hierarchy: one root, a few leaves that carry data.

Messages name the thing, say what was found and suggest the fix, on one line.
"""

from __future__ import annotations


class FillstreamError(Exception):
    """Root of every error fillstream raises on purpose."""


class ConfigError(FillstreamError):
    """A setting is missing or invalid."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting} {reason}")


class InvalidEventError(FillstreamError):
    """An event failed validation; ``field`` is a dotted path into the event."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InvalidEventsError(FillstreamError):
    """Several validation failures at once (a batch, or one event with many bad fields)."""

    def __init__(self, errors: list[InvalidEventError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class CodecError(FillstreamError):
    """A payload could not be encoded or decoded."""


class ServiceError(FillstreamError):
    """A local service (Kafka, PostgreSQL, a fillstream process) could not be started or reached."""

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"{service}: {reason}")


class ControlError(FillstreamError):
    """A control topic could not be read or written."""


class PhaseError(ControlError):
    """A phase command that cannot be carried out as asked."""
