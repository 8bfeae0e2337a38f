"""The pause before starting something again that keeps failing: 1 s, then twice the last, up
to a most; a run that lasted ``settled`` seconds counts as a success, and the next failure
starts over at 1 s."""

from __future__ import annotations


class Backoff:
    def __init__(self, most: float, *, settled: float = 60.0) -> None:
        self.most = most
        self.settled = settled
        self._failures = 0

    def after(self, ran: float) -> float:
        """The pause after a failure that ended a run of ``ran`` seconds."""
        self._failures = 1 if ran > self.settled else self._failures + 1
        return min(self.most, 2.0 ** (self._failures - 1))
