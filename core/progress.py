"""Progress of long work on stderr: done/total, rate and time left.

On a terminal one line is redrawn at most ten times a second; elsewhere (a log file, CI) a plain
line is written at most once a second. Nothing is shown for work that ends within half a second
of its first report; the rate is measured from that first report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressLine:
    """A ``(done, total)`` callback that reports ``label``'s progress in ``unit``."""

    def __init__(
        self,
        label: str,
        unit: str = "rows",
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        delay: float = 0.5,
    ) -> None:
        self._label = label
        self._unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.1 if self._tty else 1.0
        self._clock = clock
        self._delay = delay
        self._last_shown: float | None = None
        self._last: tuple[int, int] = (0, 0)
        self._first: tuple[float, int] | None = None
        """When counting started and the count then: the rate is measured from there."""

    def __call__(self, done: int, total: int) -> None:
        self._last = (done, total)
        now = self._clock()
        if self._first is None:
            self._first = (now, done)
        if now - self._first[0] < self._delay:
            return
        if self._last_shown is not None and now - self._last_shown < self._interval:
            return
        self._show(done, total, now)

    def close(self) -> None:
        """Show the final count if anything was shown, and end the line."""
        if self._last_shown is None:
            return
        self._show(*self._last, self._clock())
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _show(self, done: int, total: int, now: float) -> None:
        self._last_shown = now
        since, counted = self._first or (now, 0)
        rate = (done - counted) / (now - since) if now > since else 0.0
        text = describe(self._label, self._unit, done, total, rate)
        if self._tty:
            self._stream.write(f"\r\x1b[K{text}")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def describe(label: str, unit: str, done: int, total: int, rate: float) -> str:
    """``label: 12,000/50,000 rows (24%), 8,000 rows/s, 5s left``."""
    text = f"{label}: {done:,}/{total:,} {unit}"
    if total:
        text += f" ({100 * done // total}%)"
    text += f", {rate:,.0f} {unit}/s"
    if rate > 0 and done < total:
        text += f", {duration((total - done) / rate)} left"
    return text


def duration(seconds: float) -> str:
    """``7s``, ``3m05s``, ``1h02m``."""
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def to_stderr(text: str) -> None:
    """Report one line of what a long command is doing (not its result) on stderr."""
    print(text, file=sys.stderr, flush=True)
