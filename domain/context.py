"""What matching knows of the market when it matches an execution: bars and signals. Pure.

Matching reads market context from two other topics (``raw.market``, ``raw.signals``), so which
of their records it has seen when an execution is applied must not depend on how far a reader
happened to get, or replays would differ from the live run. ``MarketContext`` makes that a
property of the log:

- An execution ingested at ``X`` sees the bars and signals ingested by ``X + grace`` (their
  envelopes' ``ts_ingested``), and no others, however many more were read.
- It is applied only once every context partition is *complete* through ``X + grace``: a record
  ingested after it has been read there, or the reader has checked, at a moment after
  ``X + grace``, that it had read everything the partition held (live, a record still in flight
  gets the grace to arrive).
- Context is kept for ``retention`` of event time behind the executions; matching asks only for
  what lies within it (``domain.matching``), so pruning never changes an answer.

Only bars of one period (``FILLSTREAM_EXCURSION_PERIOD``, default ``1 Minute``) are kept: bars of
mixed periods would mix ranges of different lengths.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.events import BarClosed, SignalEmitted

DEFAULT_PERIOD = "1 Minute"
DEFAULT_RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True, order=True)
class Bar:
    close_time: datetime
    ts_ingested: datetime
    high: Decimal
    low: Decimal


@dataclass(frozen=True, slots=True)
class Extremes:
    """The highest and lowest price of the bars that closed within a span."""

    high: Decimal
    low: Decimal


@dataclass(slots=True)
class _Source:
    """One context partition: the latest ingestion time read there, and the latest moment the
    reader knew it had read all of it."""

    ingested: datetime | None = None
    ended_at: datetime | None = None

    def read_through(self, through: datetime) -> bool:
        """Whether every record here ingested by ``through`` is read."""
        return (self.ingested is not None and self.ingested > through) or (
            self.ended_at is not None and self.ended_at >= through
        )


class MarketContext:
    """Bars of the excursion period per instrument, signals by id, and how complete each
    context partition is."""

    def __init__(self, period: str = DEFAULT_PERIOD) -> None:
        self.period = period
        self.bars: dict[str, list[Bar]] = {}
        """Instrument → bars, by close time."""
        self.signals: dict[str, SignalEmitted] = {}
        self.sources: dict[tuple[str, int], _Source] = {}

    def watch(self, topic: str, partition: int) -> None:
        """Count a context partition in ``complete``: nothing read there yet."""
        self.sources[(topic, partition)] = _Source()

    def passed(self, topic: str, partition: int, ingested: datetime) -> None:
        """A record ingested at ``ingested`` was read in ``topic``/``partition`` (one this
        context keeps, or one kept elsewhere, such as an instrument's definition)."""
        source = self.sources.setdefault((topic, partition), _Source())
        if source.ingested is None or ingested > source.ingested:
            source.ingested = ingested

    def observe(self, topic: str, partition: int, event: BarClosed | SignalEmitted) -> None:
        """Keep ``event`` (read from ``topic``/``partition``) if matching may ask for it."""
        ingested = event.envelope.ts_ingested
        self.passed(topic, partition, ingested)
        if isinstance(event, SignalEmitted):
            self.signals[event.signal_id] = event
        elif event.period == self.period:
            bar = Bar(event.envelope.ts_event, ingested, event.high, event.low)
            bars = self.bars.setdefault(event.instrument, [])
            if not bars or bars[-1] <= bar:
                bars.append(bar)
            else:
                bisect.insort(bars, bar)

    def read_all(self, topic: str, partition: int, at: datetime) -> None:
        """Everything ``topic``/``partition`` held at the moment ``at`` has been read."""
        source = self.sources.setdefault((topic, partition), _Source())
        if source.ended_at is None or at > source.ended_at:
            source.ended_at = at

    def behind(self, through: datetime) -> list[tuple[str, int]]:
        """The watched partitions that may still hold a record ingested by ``through``."""
        return [key for key, source in self.sources.items() if not source.read_through(through)]

    def complete(self, through: datetime) -> bool:
        """Whether every record of the watched partitions ingested by ``through`` is read."""
        return all(source.read_through(through) for source in self.sources.values())

    def extremes(
        self, instrument: str, after: datetime, through: datetime, known_by: datetime
    ) -> Extremes | None:
        """The range of the bars of ``instrument`` that closed after ``after`` and by
        ``through``, ingested by ``known_by``; None without one."""
        bars = self.bars.get(instrument)
        if not bars:
            return None
        high: Decimal | None = None
        low: Decimal | None = None
        start = bisect.bisect_right(bars, after, key=_close_time)
        for bar in bars[start:]:
            if bar.close_time > through:
                break
            if bar.ts_ingested > known_by:
                continue
            high = bar.high if high is None or bar.high > high else high
            low = bar.low if low is None or bar.low < low else low
        if high is None or low is None:
            return None
        return Extremes(high, low)

    def signal(self, signal_id: str, known_by: datetime, since: datetime) -> SignalEmitted | None:
        """The signal ``signal_id`` if it was ingested by ``known_by`` and emitted since
        ``since``."""
        signal = self.signals.get(signal_id)
        if signal is None:
            return None
        if signal.envelope.ts_ingested > known_by or signal.envelope.ts_event < since:
            return None
        return signal

    def prune(self, before: datetime) -> None:
        """Forget bars that closed, and signals emitted, before ``before``."""
        for instrument, bars in list(self.bars.items()):
            start = bisect.bisect_left(bars, before, key=_close_time)
            if start == len(bars):
                del self.bars[instrument]
            elif start:
                del bars[:start]
        for signal_id, signal in list(self.signals.items()):
            if signal.envelope.ts_event < before:
                del self.signals[signal_id]

    def clear(self) -> None:
        """Forget everything read, before reading again from an earlier point."""
        self.bars.clear()
        self.signals.clear()
        for key in self.sources:
            self.sources[key] = _Source()


def _close_time(bar: Bar) -> datetime:
    return bar.close_time
