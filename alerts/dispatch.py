"""The dispatcher: one worker thread and queue per channel, so a failing or slow channel never
holds up the others, each delivery retried with exponential backoff, each result reported once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.channels import Channel
from alerts.errors import DeliveryError
from alerts.metrics import ATTEMPTS, DELIVERIES, DELIVERY_SECONDS, QUEUE_DEPTH
from schemas.events import AlertChanged

log = logging.getLogger("fillstream.alerts")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Attempt ``attempts`` times at most, waiting ``base`` seconds after the first failure,
    ``factor`` times longer after each next one, never longer than ``cap``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    attempts: int = 8

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.factor < 1 or self.cap < 0:
            raise ValueError(f"a backoff needs attempts ≥ 1, base ≥ 0, factor ≥ 1: {self}")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1 for the first)."""
        return float(min(self.cap, self.base * self.factor ** (failures - 1)))

    def schedule(self) -> list[float]:
        """The waits between all the attempts, in order."""
        return [self.delay(n) for n in range(1, self.attempts)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one alert's delivery to one channel ended."""

    delivered: bool
    attempts: int
    error: str | None
    """The last failed attempt's error (None when the first attempt delivered)."""
    finished_at: datetime
    """When the last attempt ended (UTC)."""
    seconds: float
    """From ``submit`` to ``finished_at``."""

    @property
    def label(self) -> str:
        return "delivered" if self.delivered else "failed"


OnResult = Callable[[AlertChanged, str, Outcome], None]
Wait = Callable[[float], bool]
"""Waits up to the seconds given; True when the dispatcher is stopping (give up)."""


@dataclass(frozen=True, slots=True)
class _Job:
    alert: AlertChanged
    submitted: float


class Dispatcher:
    """Delivers each submitted alert to its channels, each channel in a thread of its own;
    ``on_result(alert, channel, outcome)`` is called once per alert and channel, from that
    channel's thread."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        on_result: OnResult,
        *,
        backoff: Backoff | None = None,
        wait: Wait | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = dict(channels)
        self.on_result = on_result
        self.backoff = backoff or Backoff()
        self._stopping = threading.Event()
        self._wait = wait or self._stopping.wait
        self._clock = clock
        self._closed = False
        self._queues: dict[str, queue.Queue[_Job | None]] = {}
        self._workers: list[threading.Thread] = []
        for name, channel in self.channels.items():
            jobs: queue.Queue[_Job | None] = queue.Queue()
            worker = threading.Thread(
                target=self._work, args=(channel, jobs), name=f"alerts:{name}", daemon=True
            )
            self._queues[name] = jobs
            self._workers.append(worker)
            QUEUE_DEPTH.labels(name).set(0)
            worker.start()

    def submit(self, alert: AlertChanged, channels: Iterable[str] | None = None) -> list[str]:
        """Queue ``alert`` for ``channels`` (by name), or for every channel that wants it; the
        names it was queued for."""
        if self._closed:
            raise RuntimeError("the dispatcher is closed")
        if channels is None:
            names = [name for name, ch in self.channels.items() if ch.wants(alert)]
        else:
            names = list(channels)
            unknown = [name for name in names if name not in self._queues]
            if unknown:
                raise ValueError(f"no channel named {', '.join(unknown)}")
        job = _Job(alert, self._clock())
        for name in names:
            QUEUE_DEPTH.labels(name).inc()
            self._queues[name].put(job)
        return names

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what was submitted, for ``timeout`` seconds at most; then stop waiting to
        retry and leave the rest undelivered, with no result (the ledger keeps them pending)."""
        self._closed = True
        deadline = self._clock() + timeout
        for jobs in self._queues.values():
            jobs.put(None)
        for worker in self._workers:
            worker.join(max(0.0, deadline - self._clock()))
        if any(worker.is_alive() for worker in self._workers):
            self._stopping.set()
            for worker in self._workers:
                worker.join(1.0)

    def _work(self, channel: Channel, jobs: queue.Queue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            try:
                if self._stopping.is_set():
                    log.warning("%s: stopping, %s left undelivered", channel.name,
                                job.alert.alert_id)  # fmt: skip
                    continue
                outcome = self._deliver(channel, job)
                if outcome is not None:
                    self._report(channel.name, job, outcome)
            finally:
                QUEUE_DEPTH.labels(channel.name).dec()

    def _deliver(self, channel: Channel, job: _Job) -> Outcome | None:
        error: str | None = None
        attempts = 0
        while True:
            attempts += 1
            ATTEMPTS.labels(channel.name).inc()
            try:
                channel.send(job.alert)
                return self._outcome(job, delivered=True, attempts=attempts, error=error)
            except DeliveryError as e:
                error = str(e)
            except Exception as e:  # a bug in a channel must not end its worker
                log.exception("%s: sending %s failed unexpectedly", channel.name,
                              job.alert.alert_id)  # fmt: skip
                error = f"{channel.name}: {type(e).__name__}: {e}"
            if attempts >= self.backoff.attempts:
                log.error("%s: giving up on %s after %d attempts: %s", channel.name,
                          job.alert.alert_id, attempts, error)  # fmt: skip
                return self._outcome(job, delivered=False, attempts=attempts, error=error)
            delay = self.backoff.delay(attempts)
            log.warning("%s: attempt %d failed, retrying in %gs: %s", channel.name, attempts,
                        delay, error)  # fmt: skip
            if self._wait(delay):
                log.warning("%s: stopping, %s left undelivered after %d attempts", channel.name,
                            job.alert.alert_id, attempts)  # fmt: skip
                return None

    def _outcome(self, job: _Job, *, delivered: bool, attempts: int, error: str | None) -> Outcome:
        return Outcome(
            delivered=delivered,
            attempts=attempts,
            error=error,
            finished_at=datetime.now(UTC),
            seconds=max(0.0, self._clock() - job.submitted),
        )

    def _report(self, channel: str, job: _Job, outcome: Outcome) -> None:
        DELIVERIES.labels(channel, outcome.label).inc()
        if outcome.delivered:
            DELIVERY_SECONDS.labels(channel).observe(outcome.seconds)
        try:
            self.on_result(job.alert, channel, outcome)
        except Exception:  # the caller's bookkeeping failing must not end the worker
            log.exception("%s: recording the outcome of %s failed", channel, job.alert.alert_id)
