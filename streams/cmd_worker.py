"""``fillstream worker``: run the stream worker in the foreground: the matching and performance
stages, with /metrics, /healthz and /readyz, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from confluent_kafka.admin import AdminClient

from fillstream.health import serve_health
from fillstream.settings import Settings
from schemas.catalog import ensure_topics
from schemas.codec import default_codec
from streams.deriver import Deriver, Stage
from streams.matching_stage import MatchExecutions
from streams.performance_stages import ScopeTrades, ScoreTrades

log = logging.getLogger("fillstream.streams")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream worker", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="metrics/health port (default FILLSTREAM_WORKER_PORT or 8788)"
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    ensure_topics(settings)
    codec = default_codec()
    stages: list[Stage] = [
        MatchExecutions.from_settings(settings, codec),
        ScopeTrades(codec),
        ScoreTrades.from_settings(settings, codec),
    ]
    derivers = [Deriver(settings, stage) for stage in stages]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=d.run, args=(stop,), name=d.stage.name) for d in derivers]
    serve_health("127.0.0.1", args.port or settings.worker_port, lambda: _ready(settings, derivers))
    for thread in threads:
        thread.start()
    log.info("stream worker running: %s", ", ".join(s.name for s in stages))
    failed = False
    while not stop.wait(1.0):
        if not all(t.is_alive() for t in threads):
            log.error("a stage stopped unexpectedly; stopping the worker")
            failed = True
            stop.set()
    for thread in threads:
        thread.join(timeout=15)
    return 1 if failed else 0


def _ready(settings: Settings, derivers: list[Deriver]) -> dict[str, bool]:
    checks = {f"stage {d.stage.name} assigned": d.assigned for d in derivers}
    try:
        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=2)
        checks["kafka"] = True
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        checks["kafka"] = False
    return checks
