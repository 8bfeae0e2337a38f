"""``fillstream api``: serve the read API in the foreground: the projections' views as JSON
under ``/api/`` (OpenAPI at ``/api/openapi.json``), behind the token, with /metrics, /healthz
and /readyz, on 127.0.0.1, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from prometheus_client import REGISTRY

from api.server import ERRORS, WEB_DIR, create_app, feed_current
from bridge.tls import is_loopback
from core.errors import ConfigError
from core.health_events import ERRORS_TOTAL, sample_sum
from core.readiness import postgres_reachable
from core.service import Daemon
from core.settings import Settings
from fillstream.dashboard import DashboardControl
from fillstream.web import run_until_stopped

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
    if not is_loopback(settings.api_host) and not settings.api_insecure_bind:
        raise ConfigError(
            "FILLSTREAM_API_HOST",
            f"is {settings.api_host!r}, not a loopback address, and the read API serves plain "
            "HTTP on loopback only (FILLSTREAM_API_INSECURE_BIND=on where the port is kept "
            "private otherwise)",
        )

    def checks() -> dict[str, bool]:
        return {**_ready(settings), "live_feed": feed_current(app)}

    app = create_app(
        settings, checks, control=DashboardControl(settings), web_dir=settings.web_dir or WEB_DIR
    )
    with daemon:
        daemon.report(port=port, checks=checks, figures=_figures)
        daemon.handle_signals()
        log.info("read API on http://%s:%d/api/", settings.api_host, port)
        run_until_stopped(app, daemon.stop, host=settings.api_host, port=port, drain=_DRAIN_SECONDS)
    return daemon.finish()


def _ready(settings: Settings) -> dict[str, bool]:
    return {"postgresql": postgres_reachable(settings)}


def _figures() -> dict[str, float]:
    """Its 5xx answers (PostgreSQL unreachable or too slow)."""
    return {ERRORS_TOTAL: sample_sum(REGISTRY.collect(), ERRORS, status="503")}
