"""A rebuild's catch-up in several processes: the partitions of the topics are shared out (by
records to read) among processes, each projecting its own with a ``Projector``, while this one
holds the version's writer lock and adds up their progress. Decoding and building rows is
Python's work, one core per process; the partitions' keys are disjoint, so the processes never
write the same row or the same stored offset."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Mapping
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from core.database import connect
from core.settings import Settings
from projections import versions
from projections.errors import RebuildError, WriterBusyError
from projections.projection import Projection
from projections.projector import Projector
from schemas.codec import default_codec

PARALLEL_FROM = 100_000
"""Records to read from which a catch-up is shared among processes (below, starting them costs
more than it saves)."""


def plan(
    targets: Mapping[tuple[str, int], int], stored: Mapping[tuple[str, int], int], processes: int
) -> list[dict[tuple[str, int], int]]:
    """``targets`` shared among at most ``processes`` groups, the largest partitions first to
    the group with the fewest records so far; partitions with nothing to read are left out."""
    remaining = sorted(
        ((t - stored.get(tp, 0), tp, t) for tp, t in targets.items() if t > stored.get(tp, 0)),
        reverse=True,
    )
    groups: list[tuple[int, dict[tuple[str, int], int]]] = [
        (0, {}) for _ in range(min(processes, len(remaining)))
    ]
    for records, tp, target in remaining:
        n = min(range(len(groups)), key=lambda i: groups[i][0])
        load, group = groups[n]
        group[tp] = target
        groups[n] = (load + records, group)
    return [group for _, group in groups]


def catch_up(
    settings: Settings,
    projection: Projection,
    groups: list[dict[tuple[str, int], int]],
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run ``Projector.catch_up`` for each group of partitions in a process of its own."""
    context = multiprocessing.get_context("spawn")
    with connect(settings) as conn:
        conn.autocommit = True
        if not versions.try_writer_lock(conn, settings, projection.table):
            raise WriterBusyError(f"another process is writing {projection.table}")
        done = [context.Value("q", 0) for _ in groups]
        totals = [context.Value("q", 0) for _ in groups]
        errors = context.Queue()
        children = [
            context.Process(
                target=_project,
                args=(settings, projection, group, batch_size, done[n], totals[n], errors),
                name=f"fillstream rebuild {projection.table} {n}",
            )
            for n, group in enumerate(groups)
        ]
        for child in children:
            child.start()
        try:
            while any(child.is_alive() for child in children):
                if stop is not None and stop.is_set():
                    for child in children:
                        if child.is_alive() and child.pid is not None:
                            os.kill(child.pid, signal.SIGTERM)  # stops at a batch's end
                if progress is not None:
                    progress(sum(d.value for d in done), sum(t.value for t in totals))
                next(c for c in children if c.is_alive()).join(timeout=0.2)
        finally:
            for child in children:
                child.join()
        if progress is not None:
            progress(sum(d.value for d in done), sum(t.value for t in totals))
        failed = [c for c in children if c.exitcode != 0]
        if failed:
            reasons = []
            while not errors.empty():
                reasons.append(str(errors.get()))
            raise RebuildError(
                f"{len(failed)} of the processes rebuilding {projection.table} failed: "
                + ("; ".join(reasons) or f"exit codes {[c.exitcode for c in failed]}")
            )


def _project(
    settings: Settings,
    projection: Projection,
    targets: dict[tuple[str, int], int],
    batch_size: int,
    done: Synchronized[int],
    total: Synchronized[int],
    errors: Any,
) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides

    def counted(d: int, t: int) -> None:
        done.value, total.value = d, t

    try:
        projector = Projector(settings, projection, default_codec(), batch_size=batch_size)
        projector.catch_up(targets, progress=counted, stop=stop, lock=False)
    except BaseException as e:
        errors.put(f"{type(e).__name__}: {e}")
        raise SystemExit(1) from e
