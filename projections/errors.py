"""Errors of the projections: projecting, rebuilding, versions and the archive; leaves of
``core.errors``."""

from __future__ import annotations

from core.errors import FillstreamError


class WriterBusyError(FillstreamError):
    """Another process holds the writer lock of the version."""


class CatchUpStalledError(FillstreamError):
    """A bounded run saw a partition stop short of its target."""


class VersionError(FillstreamError):
    """A version is missing or in a state that does not allow what was asked."""


class RebuildError(FillstreamError):
    """A rebuild, switch or verification could not be done; nothing was switched."""


class ListingError(FillstreamError):
    """The broker or the database did not answer."""


class ArchiveError(FillstreamError):
    """A month could not be archived or restored; nothing of it was changed."""


class MigrationError(FillstreamError):
    """A view could not be made again after the migrations."""
