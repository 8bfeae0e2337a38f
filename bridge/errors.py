"""Errors of the bridge and the export import; leaves of ``core.errors``.

Publishing: Kafka did not acknowledge an event (``PublishError``), the spool lost data on disk
(``SpoolCorruptError``) or was misused (``SpoolMisuseError``). The import: a bad cell is an
``InvalidEventError(column, reason)`` (the caller adds the line); a header that is not the
expected grid's is an ``UnrecognizedHeaderError``; a file that cannot be imported at all
(missing, unreadable, the wrong grid) is an ``ImportFileError`` naming it; a topic to read that
does not exist yet is a ``MissingTopicError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import FillstreamError, ServiceError


class PublishError(FillstreamError):
    """Kafka did not acknowledge an event."""


class SpoolCorruptError(FillstreamError):
    """A frame in the middle of the spool does not check out: the disk lost data."""


class SpoolMisuseError(FillstreamError):
    """The spool was asked for what it cannot do: a batch larger than a frame may hold, or a
    commit of a frame that is not the oldest."""


class UnrecognizedHeaderError(FillstreamError):
    """A header that lacks columns the grid export needs (``grid`` is "Executions" or "Trades")."""

    def __init__(
        self,
        grid: str,
        missing: Sequence[str],
        expected: Sequence[str],
        hint: str | None = None,
    ) -> None:
        self.grid = grid
        self.missing = tuple(missing)
        self.expected = tuple(expected)
        self.hint = hint
        message = (
            f"header is not a NinjaTrader {grid} grid export: missing {', '.join(missing)} "
            f"(expected the columns {', '.join(expected)})"
        )
        super().__init__(f"{message}; {hint}" if hint else message)


class ImportFileError(FillstreamError):
    """A file that cannot be imported at all (missing, unreadable, not the right grid)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class MissingTopicError(ServiceError):
    """The topic to read does not exist (yet)."""
