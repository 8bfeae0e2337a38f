"""Errors of the domain's rules; leaves of ``core.errors``.

A rule refused on an argument that a caller built wrongly is also a ``ValueError``, so code that
catches those keeps doing so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from core.errors import FillstreamError, InvalidEventError


class DomainError(FillstreamError):
    """A domain rule refused what it was given."""


class UnknownInstrumentError(InvalidEventError):
    """An instrument whose root has no contract specification (tick size, point value): neither
    in the built-in table nor defined in the log."""

    def __init__(self, instrument: str, root: str, known_roots: Iterable[str]) -> None:
        self.instrument = instrument
        self.root = root
        self.known_roots = tuple(known_roots)
        super().__init__(
            "instrument",
            f"no contract specification for root {root!r} (instrument {instrument!r}); "
            f"define it with `{add_command(root)}`",
        )


def add_command(root: str) -> str:
    """The command that defines a contract root the built-in table lacks."""
    return f"fillstream instruments add {root or 'ROOT'} --tick-size T --point-value V --currency C"


class StatisticsError(DomainError):
    """A statistic cannot be computed from the data given (too few observations, no spread)."""

    def __init__(self, statistic: str, reason: str) -> None:
        self.statistic = statistic
        self.reason = reason
        super().__init__(f"{statistic}: {reason}")


class ExperimentError(DomainError):
    """A change that cannot be made to the experiments as they stand."""


class PaperError(DomainError):
    """A signal that cannot be paper-traded, and why."""


class WindowSizeError(DomainError, ValueError):
    """A rolling window of fewer than one trade."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"a rolling window needs at least one trade, was {count}")


class EmptyWindowError(DomainError, ValueError):
    """A performance snapshot of a window without a trade; ``window`` names it."""

    def __init__(self, window: str) -> None:
        self.window = window
        super().__init__(f"{window}: a snapshot needs a trade")


class TradingDayError(DomainError, ValueError):
    """A date that is no trading day (a weekend)."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(f"{day} is not a trading day (a weekend)")


class MissingTradeIdError(DomainError, ValueError):
    """A trade without its ``trade_id`` given to a ledger, which counts each trade once by it."""

    def __init__(self) -> None:
        super().__init__("a ledger's trades need their trade_id")


class TallyError(DomainError, ValueError):
    """A tally extended by one that does not keep its segments."""

    def __init__(self) -> None:
        super().__init__("a tally extends only by one that keeps its segments")
