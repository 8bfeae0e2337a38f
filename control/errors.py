"""Errors of the control plane: offsets and rewinds, relabelling; leaves of ``core.errors``
(a phase's are ``core.errors.PhaseError``, which the control log raises too)."""

from __future__ import annotations

from core.errors import FillstreamError


class OffsetsError(FillstreamError):
    """A group that does not exist, or a broker that does not answer."""


class RelabelError(FillstreamError):
    """A relabelling that cannot be started as asked."""
