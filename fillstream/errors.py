"""Errors of the shell's commands; leaves of ``core.errors``."""

from __future__ import annotations

from core.errors import FillstreamError


class RegimesError(FillstreamError):
    """A regimes command that cannot be carried out as asked."""
