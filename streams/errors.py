"""Errors of the stream worker's runtime; leaves of ``core.errors``."""

from __future__ import annotations

from core.errors import FillstreamError


class UnfinishedRewindError(FillstreamError):
    """A changelog partition is marked by a stage rewind that did not finish."""
