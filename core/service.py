"""The frame every daemon (bridge, worker, projector, notifier) runs in: the settings and the log
format, SIGTERM and SIGINT (``core.shutdown``), /metrics, /healthz and /readyz
(``core.health``), and the health checks published to ``health`` (``core.health_reporter``)
from the start to a last one on a clean stop.

    daemon = Daemon("notifier")
    ...                                   # what the daemon needs before it serves
    daemon.handle_signals()
    daemon.serve_health(port, ready)
    daemon.report(port=port, checks=ready, figures=figures)
    with daemon:                          # an exception ends the checks without a last one
        run(daemon.stop)
    return daemon.finish()                # the last check says the daemon stopped
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType

from prometheus_client import REGISTRY, CollectorRegistry

from core.health import Route, serve_health
from core.health_reporter import HealthReporter
from core.settings import Settings
from core.shutdown import GRACE_SECONDS, stop_on_signals
from schemas.codec import Codec, default_codec

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

Checks = Callable[[], dict[str, bool]]
Figures = Callable[[], dict[str, float]]


class Daemon:
    """One daemon process, named as its health checks name it (``service``)."""

    def __init__(self, service: str, settings: Settings | None = None) -> None:
        self.service = service
        self.started_at = datetime.now(UTC)
        self.settings = Settings.from_env() if settings is None else settings
        self.stop = threading.Event()
        """Set by SIGTERM or SIGINT (once ``handle_signals`` is called), or by the daemon."""
        self.reporter: HealthReporter | None = None
        logging.basicConfig(level=self.settings.log_level.upper(), format=LOG_FORMAT)

    def handle_signals(self, grace: float = GRACE_SECONDS) -> None:
        """SIGTERM and SIGINT set ``stop``; the process exits ``grace`` seconds later at most."""
        stop_on_signals(self.stop, name=self.service, grace=grace)

    def serve_health(
        self,
        port: int,
        checks: Checks,
        *,
        registry: CollectorRegistry = REGISTRY,
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        serve_health(self.settings.metrics_host, port, checks, registry=registry, routes=routes)

    def report(
        self, *, port: int, checks: Checks, figures: Figures, codec: Codec | None = None
    ) -> HealthReporter:
        """Start publishing health checks every ``FILLSTREAM_HEALTH_INTERVAL_SECONDS``."""
        self.reporter = HealthReporter(
            self.settings,
            codec or default_codec(),
            service=self.service,
            port=port,
            checks=checks,
            figures=figures,
            started_at=self.started_at,
        ).start()
        return self.reporter

    def finish(self, *, failed: bool = False, timeout: float = 2.0) -> int:
        """End the health checks (a clean stop publishes a last one; a failure leaves its
        silence to say so) and return the process's exit status."""
        if self.reporter is not None:
            if failed:
                self.reporter.close(timeout=timeout)
            else:
                self.reporter.stop(timeout=timeout)
        return 1 if failed else 0

    def __enter__(self) -> Daemon:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None and self.reporter is not None:
            self.reporter.close()
