"""A tiny threaded HTTP server for processes without a web framework of their own:
``/metrics`` (Prometheus), ``/healthz`` (alive), ``/readyz`` (dependencies reachable) and any
extra ``routes`` a process adds (the notifier's ``/alerts/feed``)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger("fillstream.health")

Route = Callable[[BaseHTTPRequestHandler], None]
"""Answers a GET in full (status, headers, body) through the request handler it is given."""


def serve_health(
    host: str,
    port: int,
    ready: Callable[[], dict[str, bool]],
    *,
    registry: CollectorRegistry = REGISTRY,
    routes: Mapping[str, Route] | None = None,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``ready`` returns named checks, all true when ready;
    /metrics shows ``registry``; ``routes`` answer GETs of other paths (query aside)."""
    extra = dict(routes or {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}', "application/json")
            elif path == "/readyz":
                try:
                    checks = ready()
                except Exception:  # a check that cannot run fails readiness; it does not hang up
                    log.exception("the readiness checks failed to run")
                    checks = {"readiness": False}
                status = 200 if all(checks.values()) else 503
                self._send(status, json.dumps(checks).encode(), "application/json")
            elif path in extra:
                extra[path](self)
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"health:{port}", daemon=True).start()
    return server
