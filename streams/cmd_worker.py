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
multiprocess mode), which /metrics here adds up, and each says through a shared flag whether
it holds its partitions, which /readyz reports. A stage process ends when this one does,
however it ends (even by SIGKILL: it watches its parent), and this one stops the others and
exits non-zero when a stage ends by itself.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from fillstream.health import serve_health
from fillstream.health_events import worker_figures
from fillstream.health_reporter import HealthReporter
from fillstream.lag import worst
from fillstream.settings import Settings, available_cores
from schemas.catalog import ensure_topics, load_catalog
from schemas.codec import Codec, default_codec
from streams.alert_stages import AlertOnHealth, AlertOnPerformance
from streams.control import effective_settings, read_log
from streams.deriver import Deriver, Stage
from streams.matching_stage import MatchExecutions
from streams.paper_stages import PaperBars, PaperSignals, PaperTrades
from streams.performance_stages import ScopeTrades, ScoreTrades
from streams.regime_stage import LabelRegimes

log = logging.getLogger("fillstream.streams")

STAGES: dict[str, Callable[[Settings, Codec], Stage]] = {
    "matching": MatchExecutions.from_settings,
    "scopes": lambda settings, codec: ScopeTrades(codec),
    "performance": ScoreTrades.from_settings,
    "regimes": LabelRegimes.from_settings,
    "paper-signals": lambda settings, codec: PaperSignals(codec),
    "paper-bars": lambda settings, codec: PaperBars(codec, settings.excursion_period),
    "paper": PaperTrades.from_settings,
    "alerts-performance": AlertOnPerformance.from_settings,
    "alerts-health": AlertOnHealth.from_settings,
}
"""The stages, by name, in the order records flow through them."""

PAPER_STAGES = ("paper-signals", "paper-bars", "paper")
"""Run only with ``FILLSTREAM_PAPER=on`` (the default)."""

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream worker", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="metrics/health port (default FILLSTREAM_WORKER_PORT or 8788)"
    )
    partitions = load_catalog()[MatchExecutions.source].partitions
    default = default_matching_processes(partitions, available_cores())
    parser.add_argument(
        "--matching-processes",
        type=int,
        default=default,
        metavar="N",
        help=f"processes for the matching stage (default {default}: one per partition it reads, "
        f"{partitions}, but at most the cores less one)",
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    if args.matching_processes < 1:
        parser.error(f"--matching-processes: at least 1, was {args.matching_processes}")
    settings = Settings.from_env()
    _log_setup(settings)
    ensure_topics(settings)
    phases = read_log(settings)
    settings = effective_settings(settings, phases)
    for phase in phases.active():
        shown = ", ".join(f"{k}={v}" for k, v in phase.started.settings.items())
        log.info("phase %s active: %s", phase.name, shown or "no settings")
    counts = {
        name: args.matching_processes if name == "matching" else 1
        for name in STAGES
        if settings.paper or name not in PAPER_STAGES
    }
    port = args.port or settings.worker_port
    metrics = settings.home / "worker-metrics" / str(port)
    shutil.rmtree(metrics, ignore_errors=True)  # a killed predecessor's counts are not ours
    metrics.mkdir(parents=True)
    os.environ[_METRICS_ENV] = str(metrics)  # before the stage processes import the metrics
    spawn = multiprocessing.get_context("spawn")
    assigned = {(name, n): spawn.Value("b", 0) for name in counts for n in range(counts[name])}
    children = [
        spawn.Process(
            target=_run_stage,
            args=(settings, name, n, flag),
            name=f"fillstream worker {name} {n}",
        )
        for (name, n), flag in assigned.items()
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics))  # type: ignore[no-untyped-call]
    serve_health(
        settings.metrics_host, port, lambda: _ready(settings, assigned, registry), registry=registry
    )
    for child in children:
        child.start()
    reporter = HealthReporter(
        settings,
        default_codec(),
        service="worker",
        port=port,
        checks=lambda: _ready(settings, assigned, registry),
        figures=lambda: worker_figures(registry.collect()),
        started_at=started_at,
    ).start()
    log.info("stream worker running: %s", ", ".join(f"{n} {s}" for s, n in counts.items()))
    failed = False
    while not stop.wait(1.0):
        if not all(child.is_alive() for child in children):
            log.error("a stage stopped unexpectedly; stopping the worker")
            failed = True
            stop.set()
    if failed:
        reporter.close()
    else:
        reporter.stop()
    _stop(children, metrics)
    return 1 if failed else 0


def default_matching_processes(partitions: int, cores: int) -> int:
    """One per partition of ``raw.executions``, at most ``cores - 1``, at least one."""
    return max(1, min(partitions, cores - 1))


def _run_stage(settings: Settings, name: str, instance: int, assigned: Synchronized[int]) -> None:
    """A stage process: derive until SIGTERM or the worker's end."""
    _log_setup(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = multiprocessing.parent_process()
    assert parent is not None
    threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()
    deriver = Deriver(settings, STAGES[name](settings, default_codec()), instance=instance)
    threading.Thread(target=_report, args=(deriver, assigned, stop), daemon=True).start()
    deriver.run(stop)


def _end_with(parent_sentinel: int) -> None:
    """End this process the moment the worker's has ended, whatever ended it: an open
    transaction aborts, as if both had been killed."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


def _report(deriver: Deriver, assigned: Synchronized[int], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        assigned.value = int(deriver.assigned)


def _stop(children: Sequence[multiprocessing.process.BaseProcess], metrics: Path) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: the stage finishes its batch and closes
    for child in children:
        child.join(timeout=15)
        if child.is_alive():
            child.kill()
            child.join()
    shutil.rmtree(metrics, ignore_errors=True)


def _ready(
    settings: Settings,
    assigned: dict[tuple[str, int], Synchronized[int]],
    registry: CollectorRegistry,
) -> dict[str, bool]:
    checks = {f"stage {name} assigned": True for name, _ in assigned}
    for (name, _), flag in assigned.items():
        checks[f"stage {name} assigned"] &= bool(flag.value)
    checks["caught up"] = worst(registry.collect()) <= settings.ready_lag_records
    try:
        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=2)
        checks["kafka"] = True
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        checks["kafka"] = False
    return checks


def _log_setup(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
