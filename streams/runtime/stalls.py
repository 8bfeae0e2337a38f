"""Telling a stalled stage from an idle one, from outside the stage's processes.

A stage is *stalled* when records wait for it and it has made no progress for
``FILLSTREAM_STALL_SECONDS``. Progress is what its processes note in shared memory
(``Deriver.progressed_at``: a committed batch, restored state, or every partition it holds read
to its end); a process blocked in a call or frozen notes nothing. Whether records wait is asked
of the broker, never of the stage, whose own view stops with it: a partition waits when its end
is more than one record beyond the group's committed offset (one: the commit marker that follows
a transaction's records), or one record beyond it and that record came after the stage last made
progress. The worker's ``StallMonitor`` asks every ``CHECK_SECONDS``; ``/readyz``, the metrics
and the health figures (``stalled_seconds|<stage>``, read by the ``stage_stall`` alert rule) all
take its answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("fillstream.streams")

CHECK_SECONDS = 2.0
_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Stall:
    """A stage's standing at one check."""

    waiting: int
    """Records beyond the group's committed offsets, by the broker (markers included)."""
    seconds: float
    """How long records have waited with no progress (0: none wait, or it progresses)."""
    stalled: bool
    """``seconds`` reached the limit."""


IDLE = Stall(waiting=0, seconds=0.0, stalled=False)


def waiting_records(
    ends: Mapping[int, int], committed: Mapping[int, int], ends_at_progress: Mapping[int, int]
) -> int:
    """The records waiting for a stage (see the module docstring), 0 when none: ``ends`` and
    ``committed`` by partition now, ``ends_at_progress`` as they were when it last progressed."""
    waiting = 0
    for partition, end in ends.items():
        behind = end - committed.get(partition, 0)
        if behind > 1 or (behind == 1 and end > ends_at_progress.get(partition, 0)):
            waiting += behind
    return waiting


def judge(*, now: float, progressed_at: float, waiting: int, limit: float) -> Stall:
    """The standing of a stage that last progressed at ``progressed_at`` with ``waiting``
    records waiting for it."""
    if not waiting:
        return Stall(waiting=0, seconds=0.0, stalled=False)
    seconds = max(0.0, now - progressed_at)
    return Stall(waiting=waiting, seconds=seconds, stalled=seconds >= limit)


class StallMonitor:
    """Judges every stage every ``CHECK_SECONDS`` from a thread of its own.

    ``stages`` maps a stage to its consumer group and source topic (full names);
    ``progressed_at`` gives a stage's oldest progress among its processes (``time.monotonic``);
    ``on_change`` is called when a stage becomes stalled or stops being so.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        stages: Mapping[str, tuple[str, str]],
        progressed_at: Callable[[str], float],
        *,
        limit: float,
        registry: CollectorRegistry,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.stages = dict(stages)
        self.limit = limit
        self._progressed_at = progressed_at
        self._on_change = on_change
        self._admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        self._state = {stage: IDLE for stage in stages}
        self._ends_at_progress: dict[str, dict[int, int]] = {s: {} for s in stages}
        self._last_progress: dict[str, float] = {s: 0.0 for s in stages}
        self._waiting: dict[str, int] = {s: 0 for s in stages}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stalled = Gauge(
            "fillstream_stream_stalled",
            "1 while a stage makes no progress with records waiting for it "
            "(FILLSTREAM_STALL_SECONDS and more), else 0.",
            ["stage"],
            registry=registry,
        )
        self._seconds = Gauge(
            "fillstream_stream_stalled_seconds",
            "How long records have waited for a stage with no progress (0 while it progresses "
            "or nothing waits).",
            ["stage"],
            registry=registry,
        )
        self._stalls = Counter(
            "fillstream_stream_stalls_total",
            "Times a stage became stalled.",
            ["stage"],
            registry=registry,
        )
        self._behind = Gauge(
            "fillstream_stream_waiting_records",
            "Records beyond a stage's committed offsets, as the broker has them.",
            ["stage"],
            registry=registry,
        )
        for stage in stages:
            self._stalled.labels(stage).set(0)
            self._seconds.labels(stage).set(0)
            self._stalls.labels(stage)
            self._behind.labels(stage).set(0)

    def start(self) -> StallMonitor:
        threading.Thread(target=self._run, name="stall-monitor", daemon=True).start()
        return self

    def close(self) -> None:
        self._stop.set()

    def state(self) -> dict[str, Stall]:
        with self._lock:
            return dict(self._state)

    def check(self) -> dict[str, Stall]:
        """Ask the broker and judge every stage now; a broker that does not answer leaves
        each stage's waiting records as last known."""
        now = time.monotonic()
        try:
            ends = self._ends({topic for _, topic in self.stages.values()})
            committed = {stage: self._committed(group) for stage, (group, _) in self.stages.items()}
        except (KafkaException, TimeoutError) as e:  # futures time out with TimeoutError
            log.debug("stall check: the broker did not answer (%s)", e)
            ends, committed = {}, {}
        changed = False
        for stage, (_, topic) in self.stages.items():
            progressed = self._progressed_at(stage)
            if topic in ends and stage in committed:
                if progressed > self._last_progress[stage] or not self._ends_at_progress[stage]:
                    self._ends_at_progress[stage] = ends[topic]
                self._waiting[stage] = waiting_records(
                    ends[topic], committed[stage], self._ends_at_progress[stage]
                )
            self._last_progress[stage] = progressed
            stall = judge(
                now=now, progressed_at=progressed, waiting=self._waiting[stage], limit=self.limit
            )
            before = self._state[stage]
            if stall.stalled != before.stalled:
                changed = True
                if stall.stalled:
                    self._stalls.labels(stage).inc()
                    log.error(
                        "stage %s is stalled: %d records wait and it has made no progress for "
                        "%.0f s",
                        stage,
                        stall.waiting,
                        stall.seconds,
                    )
                else:
                    log.info("stage %s progresses again", stage)
            self._stalled.labels(stage).set(int(stall.stalled))
            self._seconds.labels(stage).set(stall.seconds)
            self._behind.labels(stage).set(stall.waiting)
            with self._lock:
                self._state[stage] = stall
        if changed:
            self._on_change()
        return self.state()

    def _run(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            try:
                self.check()
            except Exception:  # the monitor must outlive a surprise; the next check retries
                log.exception("stall check failed")

    def _ends(self, topics: set[str]) -> dict[str, dict[int, int]]:
        metadata = self._admin.list_topics(timeout=_TIMEOUT)
        asked = {
            TopicPartition(topic, p): OffsetSpec.latest()  # type: ignore[no-untyped-call]
            for topic in topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        }
        ends: dict[str, dict[int, int]] = {
            topic: {} for topic in topics if topic in metadata.topics
        }
        if not asked:
            return ends
        futures = self._admin.list_offsets(asked, request_timeout=_TIMEOUT)
        for tp, future in futures.items():
            ends[tp.topic][tp.partition] = int(future.result(_TIMEOUT).offset)
        return ends

    def _committed(self, group: str) -> dict[int, int]:
        futures = self._admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=_TIMEOUT
        )
        result = futures[group].result(_TIMEOUT)
        return {tp.partition: tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}
