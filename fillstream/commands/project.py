"""``fillstream project``: run every projector in the foreground, with /metrics and /healthz, the
experiment guard (``control.guard``: guardrail breaches roll experiments back) and the nightly
data-accuracy job (``control.accuracy``, ``FILLSTREAM_ACCURACY_SCHEDULE``).

A projector that loses Kafka or PostgreSQL (a broker restart, a failover) starts again from the
offsets stored with its rows, after a pause that grows while the failures go on; only an error
that is not about reaching them stops the process. SIGTERM stops it within
``core.shutdown``'s grace period."""

from __future__ import annotations

import argparse
import logging
import threading
import time

import psycopg
from confluent_kafka import KafkaException
from prometheus_client import REGISTRY, Counter

from control.accuracy import scheduled
from control.guard import guard
from core.backoff import Backoff
from core.database import connect
from core.errors import ControlError
from core.health_events import projector_figures
from core.kafka import ensure_topics
from core.lag import LAG, worst
from core.readiness import kafka_reachable, postgres_reachable
from core.service import Daemon
from core.settings import Settings
from core.watchdog import Watchdog
from projections import PROJECTIONS, versions
from projections.migrate import migrate
from projections.projection import Projection
from projections.projector import EVENTS, Projector
from projections.rebuild_metrics import RebuildCollector
from projections.trading_metrics import TradingCollector
from schemas.codec import Codec, default_codec

log = logging.getLogger("fillstream.projector")

RESTARTS = Counter(
    "fillstream_projector_restarts_total",
    "Times a projector lost Kafka or PostgreSQL and started again from its stored offsets.",
    ["projection"],
)

_RETRY_MAX_SECONDS = 30.0

WATCHDOG = Watchdog("projector")
"""Bounds the projectors' blocking calls into librdkafka; started by ``main``."""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream project", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="metrics/health port (default FILLSTREAM_PROJECTOR_PORT or 8789)"
    )
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    daemon = Daemon("projector")
    settings = daemon.settings
    ensure_topics(settings)
    migrate(settings)
    daemon.handle_signals()
    WATCHDOG.start()
    REGISTRY.register(TradingCollector(settings))
    REGISTRY.register(RebuildCollector(settings))
    port = args.port or settings.projector_port

    def checks() -> dict[str, bool]:
        return _ready(settings)

    daemon.serve_health(port, checks)
    stop = daemon.stop
    threads = [
        threading.Thread(target=follow, args=(settings, p, stop), name=p.name) for p in PROJECTIONS
    ]
    threads.append(threading.Thread(target=guard, args=(settings, stop), name="experiment-guard"))
    if settings.accuracy_schedule is not None:
        threads.append(threading.Thread(target=scheduled, args=(settings, stop), name="accuracy"))
    for thread in threads:
        thread.start()
    daemon.report(
        port=port,
        checks=checks,
        figures=lambda: projector_figures([*LAG.collect(), *EVENTS.collect()]),
    )
    log.info("projectors running: %s", ", ".join(p.name for p in PROJECTIONS))
    failed = False
    while not stop.wait(1.0):
        if not all(t.is_alive() for t in threads):
            log.error("a projector stopped unexpectedly; exiting")
            failed = True
            stop.set()
    status = daemon.finish(failed=failed)
    deadline = time.monotonic() + 6
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return status


def follow(settings: Settings, projection: Projection, stop: threading.Event) -> None:
    """Project the version of ``projection`` that serves its view until ``stop``; when a
    rebuild or a switch points the view at another version, go on with that one. Losing Kafka
    or PostgreSQL starts it again (see the module docstring)."""
    codec = default_codec()
    backoff = Backoff(_RETRY_MAX_SECONDS)
    while not stop.is_set():
        started = time.monotonic()
        try:
            _follow(settings, projection, codec, stop)
        except (KafkaException, ControlError, psycopg.OperationalError) as e:
            pause = backoff.after(time.monotonic() - started)
            log.error("projection %s: %s; starting again in %g s", projection.name, e, pause)
            RESTARTS.labels(projection.name).inc()
            stop.wait(pause)


def _follow(
    settings: Settings, projection: Projection, codec: Codec, stop: threading.Event
) -> None:
    with connect(settings) as conn:
        conn.autocommit = True
        while not stop.is_set():
            number = versions.live(conn, projection.name).version

            def still_live(number: int = number) -> bool:
                return versions.live(conn, projection.name).version == number

            log.info("projecting %s into version %d", projection.name, number)
            Projector(settings, projection.at(number), codec, watchdog=WATCHDOG).run(
                stop, still_live=still_live
            )


def _ready(settings: Settings) -> dict[str, bool]:
    return {
        "kafka": kafka_reachable(settings),
        "postgresql": postgres_reachable(settings),
        "caught up": worst(LAG.collect()) <= settings.ready_lag_records,
    }
