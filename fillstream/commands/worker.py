"""``fillstream worker``: run the stream worker in the foreground: the matching, scopes and
performance stages, with /metrics, /healthz and /readyz, until SIGTERM or Ctrl-C.

Each stage runs in processes of its own (spawned by this one), so the three derive on separate
cores instead of taking turns under one interpreter lock: matching, the most work per record, in
``--matching-processes`` (default one per partition of ``raw.executions``, but no more than the
cores less one: the broker, the other stages and the projector need a core too, and every
matching process commits transactions of its own, which costs the broker more than the records
do), which share its partitions in the consumer group as separate workers would; the others in
one each. The
stages write their metrics to files in a folder of this worker's (prometheus_client's
multiprocess mode), which /metrics here adds up, and each says through shared memory whether
it holds its partitions, which /readyz reports, and when it last made progress, from which a
``StallMonitor`` (``streams.runtime.stalls``) tells a stalled stage from an idle one: /readyz fails
``stage NAME progressing`` for a stalled one, and a health check goes out at once when one
stalls or recovers.

A stage process ends when this one does, however it ends (even by SIGKILL: it watches its
parent). One that its watchdog ended (a call into librdkafka overran its bound,
``core.watchdog``) or that a signal killed is started again, after a pause that grows while
it keeps ending (1 s, doubling up to 30 s); one that failed with an error stops the worker,
which exits non-zero. On SIGTERM the worker asks its stage processes to stop, SIGKILLs those
still running ``STAGES_GRACE_SECONDS`` later, and exits within ``core.shutdown``'s grace
period whatever they do.
"""

from __future__ import annotations

import argparse
import glob
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from core.backoff import Backoff
from core.control_log import effective_settings, read_log
from core.health_events import STALLED_SECONDS, worker_figures
from core.kafka import admin_client, ensure_topics
from core.lag import worst
from core.service import LOG_FORMAT, Daemon
from core.settings import Settings, available_cores
from core.shutdown import stop_on_signals
from core.watchdog import EXIT_OVERRUN, Watchdog
from domain.regimes import parse_classifiers
from schemas.catalog import load_catalog
from schemas.codec import default_codec
from streams.runtime.deriver import Deriver
from streams.runtime.stalls import StallMonitor
from streams.stages import IMPORTED_STAGES, PAPER_STAGES, STAGE_SOURCES, STAGES

log = logging.getLogger("fillstream.streams")

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"

STAGES_GRACE_SECONDS = 5.0
"""How long stage processes have to stop after SIGTERM before they are SIGKILLed (what is left
of the worker's grace period publishes its last health check)."""

_RESTART_MAX_SECONDS = 30.0

_ASSIGNED, _PROGRESSED_AT = range(2)
"""The fields a stage process shares with the worker (``_Slot.shared``)."""


@dataclass(slots=True)
class _Slot:
    """One stage process of the worker, and what it shares: whether it holds its partitions
    and when it last made progress (``time.monotonic``)."""

    name: str
    instance: int
    shared: SynchronizedArray[float]
    process: BaseProcess | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(_RESTART_MAX_SECONDS))
    """The pause before a restart: it grows while the process keeps ending within a minute."""
    restart_at: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream worker", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="metrics/health port (default FILLSTREAM_WORKER_PORT or 8788)"
    )
    partitions = load_catalog()[STAGE_SOURCES["matching"]].partitions
    default = default_matching_processes(partitions, available_cores())
    parser.add_argument(
        "--matching-processes",
        type=int,
        default=default,
        metavar="N",
        help=f"processes for the matching stage (default {default}: one per partition it reads, "
        f"{partitions}, but at most the cores less one)",
    )
    return parser


def main(argv: list[str]) -> int:
    argparser = parser()
    args = argparser.parse_args(argv)
    if args.matching_processes < 1:
        argparser.error(f"--matching-processes: at least 1, was {args.matching_processes}")
    daemon = Daemon("worker")
    parse_classifiers(daemon.settings.regime)  # FILLSTREAM_REGIME: core does not check it
    ensure_topics(daemon.settings)
    phases = read_log(daemon.settings)
    settings = daemon.settings = effective_settings(daemon.settings, phases)
    parse_classifiers(settings.regime)  # as the active phases set it
    for phase in phases.active():
        shown = ", ".join(f"{k}={v}" for k, v in phase.started.settings.items())
        log.info("phase %s active: %s", phase.name, shown or "no settings")
    counts = {
        name: args.matching_processes if name == "matching" else 1
        for name in STAGES
        if (settings.paper or name not in PAPER_STAGES)
        and (settings.imported_trades or name not in IMPORTED_STAGES)
    }
    port = args.port or settings.worker_port
    metrics = settings.home / "worker-metrics" / str(port)
    shutil.rmtree(metrics, ignore_errors=True)  # a killed predecessor's counts are not ours
    metrics.mkdir(parents=True)
    os.environ[_METRICS_ENV] = str(metrics)  # before the stage processes import the metrics
    spawn = multiprocessing.get_context("spawn")
    slots = [
        _Slot(name, n, spawn.Array("d", 2, lock=False))
        for name in counts
        for n in range(counts[name])
    ]
    daemon.handle_signals()
    stop = daemon.stop
    registry = CollectorRegistry()
    StageMetrics(registry, path=str(metrics))  # type: ignore[no-untyped-call]
    restarts = Counter(
        "fillstream_worker_stage_restarts_total",
        "Stage processes the worker started again after they ended: by stage and why "
        "(overrun: a call did not return within its bound; killed: a signal ended it).",
        ["stage", "reason"],
        registry=registry,
    )
    monitor = StallMonitor(
        settings.bootstrap_servers,
        {
            name: (settings.group(f"streams.{name}"), settings.topic(STAGE_SOURCES[name]))
            for name in counts
        },
        lambda stage: min(s.shared[_PROGRESSED_AT] for s in slots if s.name == stage),
        limit=settings.stall_seconds,
        registry=registry,
        on_change=lambda: daemon.reporter.publish_now() if daemon.reporter else None,
    )

    def checks() -> dict[str, bool]:
        return _ready(settings, slots, registry, monitor)

    daemon.serve_health(port, checks, registry=registry)
    for slot in slots:
        _start(spawn, settings, slot)
    monitor.start()
    daemon.report(
        port=port,
        checks=checks,
        figures=lambda: worker_figures(registry.collect()) | _stalled_figures(monitor),
    )
    log.info("stream worker running: %s", ", ".join(f"{n} {s}" for s, n in counts.items()))
    failed = False
    while not stop.wait(1.0):
        for slot in slots:
            if not _supervise(spawn, settings, slot, restarts):
                log.error("stage %s failed; stopping the worker", slot.name)
                failed = True
                stop.set()
    monitor.close()
    _stop(slots, metrics)
    return daemon.finish(failed=failed, timeout=1.5)


class StageMetrics(MultiProcessCollector):
    """The stage processes' metrics, added up; a file a stage process has just created and not
    sized yet is passed over (read at that moment, it would fail the whole scrape)."""

    def collect(self) -> Iterable[Metric]:
        files = glob.glob(os.path.join(self._path, "*.db"))
        return self.merge([f for f in files if _sized(f)], accumulate=True)  # type: ignore[no-any-return,no-untyped-call]


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:  # removed meanwhile (a dead process's live gauges)
        return False


def default_matching_processes(partitions: int, cores: int) -> int:
    """One per partition of ``raw.executions``, at most ``cores - 1``, at least one."""
    return max(1, min(partitions, cores - 1))


def _start(spawn: multiprocessing.context.SpawnContext, settings: Settings, slot: _Slot) -> None:
    now = time.monotonic()
    slot.shared[_ASSIGNED], slot.shared[_PROGRESSED_AT] = 0, now
    slot.process = spawn.Process(
        target=_run_stage,
        args=(settings, slot.name, slot.instance, slot.shared),
        name=f"fillstream worker {slot.name} {slot.instance}",
    )
    slot.process.start()
    slot.started_at = now
    log.info("stage %s %d runs as pid %s", slot.name, slot.instance, slot.process.pid)


def _supervise(
    spawn: multiprocessing.context.SpawnContext,
    settings: Settings,
    slot: _Slot,
    restarts: Counter,
) -> bool:
    """Start ``slot``'s process again if it ended by its watchdog or a signal and its pause is
    over; False if it ended with an error (the worker then stops)."""
    process = slot.process
    assert process is not None
    if process.is_alive():
        return True
    now = time.monotonic()
    if slot.restart_at == 0.0:
        code = process.exitcode
        if process.pid is not None:  # its live gauges (lag, held) no longer count
            mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
        if code != EXIT_OVERRUN and (code is None or code >= 0):
            log.error("stage %s %d exited with status %s", slot.name, slot.instance, code)
            return False
        reason = "overrun" if code == EXIT_OVERRUN else "killed"
        restarts.labels(slot.name, reason).inc()
        pause = slot.backoff.after(now - slot.started_at)
        slot.restart_at = now + pause
        slot.shared[_ASSIGNED] = 0
        log.error(
            "stage %s %d ended (%s); starting it again in %g s",
            slot.name,
            slot.instance,
            "a call overran its bound" if reason == "overrun" else f"signal {-(code or 0)}",
            pause,
        )
    if now >= slot.restart_at:
        slot.restart_at = 0.0
        _start(spawn, settings, slot)
    return True


def _run_stage(
    settings: Settings, name: str, instance: int, shared: SynchronizedArray[float]
) -> None:
    """A stage process: derive until SIGTERM or the worker's end."""
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    stop = threading.Event()
    stop_on_signals(stop, name=f"stage {name} {instance}", grace=STAGES_GRACE_SECONDS)
    parent = multiprocessing.parent_process()
    assert parent is not None
    threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()
    watchdog = Watchdog(f"streams.{name}").start()
    stage = STAGES[name](settings, default_codec())
    deriver = Deriver(settings, stage, instance=instance, watchdog=watchdog)
    threading.Thread(target=_report, args=(deriver, shared, stop), daemon=True).start()
    deriver.run(stop)


def _end_with(parent_sentinel: int) -> None:
    """End this process the moment the worker's has ended, whatever ended it: an open
    transaction aborts, as if both had been killed."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


def _report(deriver: Deriver, shared: SynchronizedArray[float], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        shared[_ASSIGNED] = float(deriver.assigned)
        shared[_PROGRESSED_AT] = deriver.progressed_at


def _stop(slots: Sequence[_Slot], metrics: Path) -> None:
    """SIGTERM every stage process (it finishes its batch and closes), SIGKILL those still
    running ``STAGES_GRACE_SECONDS`` later."""
    children = [s.process for s in slots if s.process is not None]
    for child in children:
        if child.is_alive():
            child.terminate()
    deadline = time.monotonic() + STAGES_GRACE_SECONDS
    for child in children:
        child.join(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            log.warning("%s did not stop within %g s; killing it", child.name, STAGES_GRACE_SECONDS)
            child.kill()
    for child in children:
        child.join(timeout=2)
    shutil.rmtree(metrics, ignore_errors=True)


def _stalled_figures(monitor: StallMonitor) -> dict[str, float]:
    return {f"{STALLED_SECONDS}|{stage}": s.seconds for stage, s in monitor.state().items()}


def _ready(
    settings: Settings,
    slots: Sequence[_Slot],
    registry: CollectorRegistry,
    monitor: StallMonitor,
) -> dict[str, bool]:
    checks = {f"stage {slot.name} assigned": True for slot in slots}
    for slot in slots:
        checks[f"stage {slot.name} assigned"] &= bool(slot.shared[_ASSIGNED])
    for stage, stall in monitor.state().items():
        checks[f"stage {stage} progressing"] = not stall.stalled
    checks["caught up"] = worst(registry.collect()) <= settings.ready_lag_records
    try:
        admin_client(settings).list_topics(timeout=2)
        checks["kafka"] = True
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        checks["kafka"] = False
    return checks
