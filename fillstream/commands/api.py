"""``fillstream api``: serve the read API in the foreground: the projections' views as JSON
under ``/api/`` (OpenAPI at ``/api/openapi.json``), behind the token, with /metrics, /healthz
and /readyz, on 127.0.0.1, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading

from aiohttp import web
from prometheus_client import REGISTRY

from api.server import ERRORS, create_app
from core.health_events import ERRORS_TOTAL, sample_sum
from core.readiness import postgres_reachable
from core.service import Daemon
from core.settings import Settings

log = logging.getLogger("fillstream.api")

_DRAIN_SECONDS = 3.0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream api", description=__doc__)
    parser.add_argument("--port", type=int, help="port (default FILLSTREAM_API_PORT or 8791)")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    daemon = Daemon("api")
    settings = daemon.settings
    settings.require_token()
    port = args.port or settings.api_port

    def checks() -> dict[str, bool]:
        return _ready(settings)

    app = create_app(settings, checks)
    with daemon:
        daemon.report(port=port, checks=checks, figures=_figures)
        daemon.handle_signals()
        loop = asyncio.new_event_loop()
        threading.Thread(target=_end_loop, args=(loop, daemon.stop), daemon=True).start()
        log.info("read API on http://127.0.0.1:%d/api/", port)
        web.run_app(
            app,
            host="127.0.0.1",
            port=port,
            print=None,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_DRAIN_SECONDS,
            loop=loop,
        )
    return daemon.finish()


def _ready(settings: Settings) -> dict[str, bool]:
    return {"postgresql": postgres_reachable(settings)}


def _figures() -> dict[str, float]:
    """Its 5xx answers (PostgreSQL unreachable or too slow)."""
    return {ERRORS_TOTAL: sample_sum(REGISTRY.collect(), ERRORS, status="503")}


def _end_loop(loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
    stop.wait()
    loop.call_soon_threadsafe(_graceful_exit)


def _graceful_exit() -> None:
    raise web.GracefulExit()
