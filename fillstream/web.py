"""Running an aiohttp application in a daemon's frame (the bridge and the read API): in the
foreground, until the daemon's ``stop`` is set (SIGTERM or SIGINT through ``core.service``),
then letting requests in flight finish for ``drain`` seconds."""

from __future__ import annotations

import asyncio
import ssl
import threading

from aiohttp import web


def run_until_stopped(
    app: web.Application,
    stop: threading.Event,
    *,
    host: str,
    port: int,
    drain: float,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve ``app`` on ``host``:``port`` until ``stop`` is set."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=_end_loop, args=(loop, stop), daemon=True).start()
    web.run_app(
        app,
        host=host,
        port=port,
        ssl_context=ssl_context,
        print=None,
        access_log=None,
        handle_signals=False,  # the daemon has them, and ends the loop through stop
        shutdown_timeout=drain,
        loop=loop,
    )


def _end_loop(loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
    """End ``run_app`` once ``stop`` is set, as its own signal handling would."""
    stop.wait()
    loop.call_soon_threadsafe(_graceful_exit)


def _graceful_exit() -> None:
    raise web.GracefulExit()
