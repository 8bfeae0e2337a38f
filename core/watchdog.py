"""Bounded waits on calls that can block in native code.

librdkafka takes a timeout for its blocking calls but does not always keep it: a transactional
producer's ``send_offsets_to_transaction`` can wait forever for a group coordinator that a broker
restart took away (librdkafka issues 5456 and 5511). A thread blocked in native code cannot be
interrupted from Python, but a process can always be ended. So a process names each such call
and its bound (``with watchdog.bounded("commit_transaction", 40): …``), and a thread of the
``Watchdog`` checks the innermost call of each thread twice a second: one that overruns its
bound is logged with the process's stacks and counted, and the process exits with
``EXIT_OVERRUN``. Whoever runs it starts a fresh one (the worker does, for its stage
processes, and systemd for the services), which begins a new session: its producer fences the
old transactional id, so the broker aborts what the old one left open.

A process that was not running (stopped with SIGSTOP, a suspended machine) is not blamed for
the time it lost: the watchdog moves every deadline on by the gap it sees in its own checks.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Counter

log = logging.getLogger("fillstream.watchdog")

EXIT_OVERRUN = 75
"""The exit status of a process ended by its watchdog (EX_TEMPFAIL: start it again)."""

OVERRUNS = Counter(
    "fillstream_call_overruns_total",
    "Calls that did not return within their bound, so the process was ended and started again, "
    "by process and call.",
    ["process", "call"],
)

CHECK_SECONDS = 0.5
SUSPENDED_SECONDS = 2.0
"""A check this much later than due means the process was not running in between."""


@dataclass(slots=True)
class _Call:
    name: str
    seconds: float
    deadline: float


class Watchdog:
    """Watches the calls of one process (``name`` labels its logs and metric); see the module
    docstring. ``on_overrun`` replaces ending the process (the tests use it)."""

    def __init__(
        self,
        name: str,
        *,
        on_overrun: Callable[[str, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._clock = clock
        self._on_overrun = on_overrun or self._end_process
        self._calls: dict[int, list[_Call]] = {}
        """Each thread's calls, outermost first."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog:{name}", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()

    @contextmanager
    def bounded(self, call: str, seconds: float) -> Iterator[None]:
        """Watch ``call`` for ``seconds``. A call made inside another is watched instead of it,
        and the enclosing call's clock starts again when the inner one returns (a rebalance
        callback that restores state inside ``consume`` makes progress of its own)."""
        thread = threading.get_ident()
        with self._lock:
            calls = self._calls.setdefault(thread, [])
            calls.append(_Call(call, seconds, self._clock() + seconds))
        try:
            yield
        finally:
            with self._lock:
                calls.pop()
                if calls:
                    outer = calls[-1]
                    outer.deadline = self._clock() + outer.seconds
                else:
                    del self._calls[thread]

    def overrun(self) -> _Call | None:
        """A thread's innermost call that is past its deadline, if any."""
        now = self._clock()
        with self._lock:
            for calls in self._calls.values():
                if calls and now > calls[-1].deadline:
                    return calls[-1]
        return None

    def _watch(self) -> None:
        last = self._clock()
        while not self._stop.wait(CHECK_SECONDS):
            last = self.look(last)
            if last < 0:
                return

    def look(self, last: float) -> float:
        """One check, ``last`` being when the one before was made: the time of this one, or
        -1 once a call overran (it was reported)."""
        now = self._clock()
        gap = now - last - CHECK_SECONDS
        if gap > SUSPENDED_SECONDS:
            with self._lock:
                for calls in self._calls.values():
                    for call in calls:
                        call.deadline += gap
            return now
        late = self.overrun()
        if late is not None:
            OVERRUNS.labels(self.name, late.name).inc()
            self._on_overrun(late.name, late.seconds)
            return -1.0
        return now

    def _end_process(self, call: str, seconds: float) -> None:
        log.error(
            "%s: %s did not return within %g s; ending this process so that a fresh one "
            "starts a new session (its stacks follow)",
            self.name,
            call,
            seconds,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(EXIT_OVERRUN)
