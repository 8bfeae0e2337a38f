"""``fillstream project``: run every projector in the foreground, with /metrics and /healthz, and
the experiment guard (``control.guard``: guardrail breaches roll experiments back).

A projector that loses Kafka or PostgreSQL (a broker restart, a failover) starts again from the
offsets stored with its rows, after a pause that grows while the failures go on; only an error
that is not about reaching them stops the process. SIGTERM stops it within
``core.shutdown``'s grace period."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from datetime import UTC, datetime

import psycopg
from confluent_kafka import KafkaException
from prometheus_client import REGISTRY, Counter

from control.guard import guard
from core.backoff import Backoff
from core.control_log import ControlError
from core.database import connect
from core.health import serve_health
from core.health_events import projector_figures
from core.health_reporter import HealthReporter
from core.kafka import ensure_topics
from core.lag import LAG, worst
from core.readiness import kafka_reachable, postgres_reachable
from core.settings import Settings
from core.shutdown import stop_on_signals
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream project", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="metrics/health port (default FILLSTREAM_PROJECTOR_PORT or 8789)"
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    ensure_topics(settings)
    migrate(settings)
    stop = threading.Event()
    stop_on_signals(stop, name="projector")
    WATCHDOG.start()
    REGISTRY.register(TradingCollector(settings))
    REGISTRY.register(RebuildCollector(settings))
    port = args.port or settings.projector_port
    serve_health(settings.metrics_host, port, lambda: _ready(settings))
    threads = [
        threading.Thread(target=follow, args=(settings, p, stop), name=p.name) for p in PROJECTIONS
    ]
    threads.append(threading.Thread(target=guard, args=(settings, stop), name="experiment-guard"))
    for thread in threads:
        thread.start()
    reporter = HealthReporter(
        settings,
        default_codec(),
        service="projector",
        port=port,
        checks=lambda: _ready(settings),
        figures=lambda: projector_figures([*LAG.collect(), *EVENTS.collect()]),
        started_at=started_at,
    ).start()
    log.info("projectors running: %s", ", ".join(p.name for p in PROJECTIONS))
    while not stop.wait(1.0):
        if not all(t.is_alive() for t in threads):
            log.error("a projector stopped unexpectedly; exiting")
            reporter.close(timeout=2)
            stop.set()
            deadline = time.monotonic() + 6
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            return 1
    reporter.stop(timeout=2)
    deadline = time.monotonic() + 6
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return 0


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
