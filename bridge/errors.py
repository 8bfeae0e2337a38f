"""Errors of the export import; leaves of ``core.errors``.

A bad cell is an ``InvalidEventError(column, reason)`` (the caller adds the line); a header that
is not the expected grid's is an ``UnrecognizedHeaderError``; a file that cannot be imported at
all (missing, unreadable, the wrong grid) is an ``ImportFileError`` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import FillstreamError


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
