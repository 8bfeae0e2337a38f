"""``fillstream bridge``: run the ingest HTTP server in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import REGISTRY

from bridge.experiments import ExperimentFollower
from bridge.metrics import feed_monitor
from bridge.publisher import Publisher
from bridge.server import create_app
from bridge.spool import Spool
from core.health_events import bridge_figures
from core.health_reporter import HealthReporter
from core.settings import Settings
from core.shutdown import stop_on_signals
from schemas.codec import default_codec

_DRAIN_SECONDS = 3.0
"""How long requests in flight have to finish once the bridge stops (a batch is durable, or
refused, within the ack timeout)."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream bridge", description=__doc__)
    parser.add_argument(
        "--host", help="address to bind (default FILLSTREAM_BRIDGE_HOST or 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, help="port (default FILLSTREAM_BRIDGE_PORT or 8787)")
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    settings = Settings.from_env()
    settings.require_token()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    spool = Spool(settings.home / "spool")
    codec = default_codec()
    publisher = Publisher(settings, codec, spool, ack_timeout=settings.bridge_ack_timeout)
    publisher.prepare()
    host = args.host or settings.bridge_host
    port = args.port or settings.bridge_port
    feed = feed_monitor(settings.feed_silence_seconds)
    experiments = ExperimentFollower(settings, codec, "bridge-experiments")
    reporter = HealthReporter(
        settings,
        codec,
        service="bridge",
        port=port,
        checks=lambda: {"kafka": publisher.kafka_reachable(timeout=2.0)},
        figures=lambda: bridge_figures(REGISTRY.collect(), feed.ages()),
        started_at=started_at,
    )
    logging.getLogger("fillstream.bridge").info("bridge listening on http://%s:%d", host, port)
    try:
        app = create_app(settings, publisher, experiments)
        reporter.start()
        experiments.start()
        stop = threading.Event()
        stop_on_signals(stop, name="bridge")
        loop = asyncio.new_event_loop()
        threading.Thread(target=_end_loop, args=(loop, stop), daemon=True).start()
        web.run_app(
            app,
            host=host,
            port=port,
            print=None,
            access_log=None,
            handle_signals=False,  # stop_on_signals has them, and ends the loop through stop
            shutdown_timeout=_DRAIN_SECONDS,
            loop=loop,
        )
    except BaseException:
        reporter.close()
        raise
    else:
        reporter.stop()  # run_app returns on SIGTERM and SIGINT: a clean stop
    finally:
        experiments.close()
        publisher.close()
    return 0


def _end_loop(loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
    """End ``run_app`` once ``stop`` is set, as its own signal handling would."""
    stop.wait()
    loop.call_soon_threadsafe(_graceful_exit)


def _graceful_exit() -> None:
    raise web.GracefulExit()
