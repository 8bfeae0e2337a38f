"""Errors of the runners; leaves of ``core.errors`` (a service that cannot be started or reached
is a ``core.errors.ServiceError``)."""

from __future__ import annotations

from core.errors import FillstreamError


class BackupError(FillstreamError):
    """A dump or restore failed, or was refused."""
