"""Errors raised by the stream-derivation logic; leaves of ``core.errors``."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import FillstreamError, InvalidEventError


class UnknownInstrumentError(InvalidEventError):
    """An instrument whose root has no contract specification (tick size, point value)."""

    def __init__(self, instrument: str, root: str, known_roots: Iterable[str]) -> None:
        self.instrument = instrument
        self.root = root
        super().__init__(
            "instrument",
            f"no contract specification for root {root!r} (instrument {instrument!r}); "
            f"known roots: {', '.join(known_roots)}",
        )


class StatisticsError(FillstreamError):
    """A statistic cannot be computed from the data given (too few observations, no spread)."""

    def __init__(self, statistic: str, reason: str) -> None:
        self.statistic = statistic
        self.reason = reason
        super().__init__(f"{statistic}: {reason}")
