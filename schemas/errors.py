"""Errors of the generated readers and writers; leaves of ``core.errors`` (a payload that cannot
be encoded or decoded is a ``core.errors.CodecError``, an invalid event an
``InvalidEventError``).

``NoGeneratedFormError``, ``ValueMismatchError`` and ``WriteMisfitError`` do not leave the
codec: they say which way to read or write instead, or become the ``CodecError`` naming the
field. A row reader's cells that do not fit the event are a ``CellError`` (also a ``ValueError``).
"""

from __future__ import annotations

from core.errors import FillstreamError


class NoGeneratedFormError(FillstreamError):
    """A schema and type pair without a generated form: it is read the reference way."""


class WriteMisfitError(FillstreamError):
    """Raised by a generated writer for a value that does not fit: the first form names why."""


class ValueMismatchError(FillstreamError):
    """A value of the wrong type or out of range, at a path (built only when one is raised)."""

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []
        self.fatal = fatal
        """A ``CodecError`` of its own (precision, scale), not a schema mismatch."""

    def within(self, part: str) -> ValueMismatchError:
        self.path.append(part)
        return self

    def where(self, name: str) -> str:
        return name + "".join(reversed(self.path))


class CellError(FillstreamError, ValueError):
    """A row reader's cell that names no field of the event, or a form it was not given."""
