"""The read API's HTTP server (aiohttp): ``/api/<endpoint>`` pages, ``/api/openapi.json``, and
``/login?token=`` which trades the token for an HttpOnly, SameSite=Strict cookie and sends the
browser on without the token in its address. Every ``/api/`` request needs the token (bearer
header or that cookie); a scheduled report's page (``/reports/…``) takes it or its link's
signature. ``/healthz``, ``/readyz`` and ``/metrics`` answer without it, as every
fillstream process's do, on loopback."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from api import handlers
from api.analytics import ANALYTICS
from api.cache import STAMP, Answers
from api.control import Control
from api.endpoints import ENDPOINTS, Endpoint
from api.events import Feed, Watcher
from api.handlers import Handler, problem
from api.openapi import document
from api.queries import QueryError, page, parse, statement
from core.database import first_line
from core.settings import Settings

log = logging.getLogger("fillstream.api")

COOKIE = "fillstream_token"
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 10_000
"""Bounded waits: PostgreSQL unreachable or a query too slow answers 503, never hangs."""

REQUESTS = Counter(
    "fillstream_api_requests", "Read API requests, by endpoint and status", ["endpoint", "status"]
)
ERRORS = "fillstream_api_requests_total"
"""The 5xx answers among them are the process's errors (its health figure ``errors_total``)."""

KEEPALIVE_SECONDS = 15.0
"""An idle stream gets a comment this often, so proxies and the browser keep it open."""
FEED = web.AppKey("feed", Feed)
POOL = web.AppKey("pool", AsyncConnectionPool)
POOL_SIZE = 4
WORK_MEM = "32MB"
"""Sorts of a few hundred thousand trades stay in memory."""
STOPPING = web.AppKey("stopping", asyncio.Event)

_OPEN = ("/healthz", "/readyz", "/metrics", "/login")
_NAMES = frozenset(
    [e.name for e in ENDPOINTS]
    + [a.name for a in ANALYTICS]
    + [
        "trade",
        "services",
        "trades.csv",
        "definitions",
        "openapi.json",
        "experiments",
        "silences",
        "reports",
    ]
)
"""The endpoints counted by name; any other path under /api/ is counted as ``other``."""
_LOGIN_NEEDED = (
    "<!doctype html><html lang=en><title>fillstream: sign in</title>"
    "<p>Open the login URL that <code>fillstream dashboard</code> prints (it carries the "
    "token); the page then keeps you signed in.</p></html>"
)


WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"
"""Where ``make setup`` builds the dashboard."""


def create_app(
    settings: Settings,
    checks: Callable[[], dict[str, bool]],
    control: Control | None = None,
    web_dir: Path = WEB_DIR,
) -> web.Application:
    token = settings.require_token()

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.path in _OPEN
            or _allowed(request, token)
            or handlers.signed_report(request, token)
        ):
            return await handler(request)
        if not request.path.startswith("/api/") and request.method == "GET":
            return web.Response(text=_LOGIN_NEEDED, content_type="text/html", status=401)
        return problem(401, "the token is required: Authorization: Bearer <token>, or /login")

    @web.middleware
    async def database(request: web.Request, handler: Handler) -> web.StreamResponse:
        """A database that does not answer (or not in time) answers 503, counted."""
        name = request.path.removeprefix("/api/") if request.path.startswith("/api/") else "page"
        try:
            response = await handler(request)
        except psycopg.Error as e:
            log.warning("%s: %s", request.path, first_line(e))
            REQUESTS.labels(name, "503").inc()
            return problem(503, f"the database did not answer: {first_line(e)}")
        if request.path.startswith("/api/") and name != "events":
            REQUESTS.labels(name if name in _NAMES else "other", str(response.status)).inc()
        return response

    app = web.Application(middlewares=[authorize, database])
    app[FEED] = Feed()
    app[STOPPING] = asyncio.Event()
    app.cleanup_ctx.append(_pooled(settings))
    app.cleanup_ctx.append(_watching(settings))
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/login", _login(token))
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/api/events", _events)

    async def fetch(text: sql.Composed, args: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of ``text``, on a connection of the pool."""
        async with app[POOL].connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            cursor = await conn.execute(text, args)
            rows: list[tuple[Any, ...]] = await cursor.fetchall()
            return rows

    for endpoint in ENDPOINTS:
        app.router.add_get(endpoint.path, _listing(fetch, endpoint))

    answers = Answers()

    async def cached(
        key: str,
        text: sql.Composed,
        args: dict[str, Any],
        shape: Callable[[list[tuple[Any, ...]]], Any],
    ) -> Any:
        """``shape`` of the rows of ``text``, computed again only when the trades changed
        (``api/cache.py``); the stamp is read first, so an answer is never older than it."""
        async with app[POOL].connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn:
            stamp = tuple(await (await conn.execute(STAMP)).fetchone() or ())
            kept = answers.get(key, stamp)
            if kept is not None:
                return kept
            answer = shape(await (await conn.execute(text, args)).fetchall())
            answers.put(key, stamp, answer)
            return answer

    def connect() -> Awaitable[psycopg.AsyncConnection[Any]]:
        return _connect(settings)

    for which in ANALYTICS:
        app.router.add_get(which.path, handlers.analytic(cached, fetch, which))
    app.router.add_get("/api/trade", handlers.trade_detail(connect))
    app.router.add_get("/api/services", handlers.services(fetch))
    app.router.add_get("/api/gate-report", handlers.gate_report(fetch))
    app.router.add_get("/api/trades.csv", handlers.trades_csv(connect))
    app.router.add_get("/api/definitions", handlers.figure_definitions)
    app.router.add_get("/api/reports", handlers.reports(fetch))
    app.router.add_get(r"/reports/{kind:(daily|weekly)}/{page}", handlers.report_document(fetch))
    handlers.add_control_routes(app, control)
    handlers.add_dashboard(app, web_dir)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(checks))
    app.router.add_get("/metrics", _metrics)
    return app


def _allowed(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    given = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _login(token: str) -> Handler:
    async def login(request: web.Request) -> web.StreamResponse:
        given = request.query.get("token", "")
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return problem(401, "not the token: copy the login URL `fillstream dashboard` prints")
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                            secure=request.secure)  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return login


async def _openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(document())


def _listing(fetch: handlers.Fetch, endpoint: Endpoint) -> Handler:
    async def listing(request: web.Request) -> web.StreamResponse:
        try:
            query = parse(endpoint, request.query)
        except QueryError as e:
            return problem(400, str(e), parameter=e.parameter)
        text, args = statement(query)
        return web.json_response(page(query, await fetch(text, args)))

    return listing


def _pooled(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A few connections the requests share, opened as they are needed; a request waits at
    most ``CONNECT_TIMEOUT_SECONDS`` for one."""

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace))
        )

    async def pooled(app: web.Application) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(
            settings.dsn,
            min_size=0,
            max_size=POOL_SIZE,
            open=False,
            configure=configure,
            timeout=CONNECT_TIMEOUT_SECONDS,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c work_mem={WORK_MEM}",
            },
        )
        await pool.open(wait=False)
        app[POOL] = pool
        yield
        await pool.close(timeout=CONNECT_TIMEOUT_SECONDS)

    return pooled


def _watching(
    settings: Settings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The live feed's watcher runs while the app does."""

    async def watching(app: web.Application) -> AsyncIterator[None]:
        watcher = Watcher(app[FEED], lambda: _connect(settings))
        task = asyncio.create_task(watcher.run(app[STOPPING]))
        yield
        app[STOPPING].set()
        await asyncio.wait_for(task, CONNECT_TIMEOUT_SECONDS + 1)

    return watching


FEED_STALE_SECONDS = 5.0


def feed_current(app: web.Application) -> bool:
    """Whether the live feed read the views within ``FEED_STALE_SECONDS``: an open page that
    gets nothing while trades are projected is a process that is not ready."""
    polled = app[FEED].polled_at
    return polled is not None and time.monotonic() - polled < FEED_STALE_SECONDS


async def _stop_streams(app: web.Application) -> None:
    app[STOPPING].set()


async def _events(request: web.Request) -> web.StreamResponse:
    """``/api/events``: Server-Sent Events, from after ``Last-Event-ID`` when it is given."""
    feed, stopping = request.app[FEED], request.app[STOPPING]
    last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    backlog = feed.after(last_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    REQUESTS.labels("events", "200").inc()
    number = feed.last
    try:
        await response.write(b"retry: 1000\n\n")
        if backlog is None:
            reason = "not a recent event id" if last_id else ""
            await response.write(_frame(f"{feed.epoch}-{number}", "resync", {"reason": reason}))
        else:
            number = backlog[-1].number if backlog else number
            for event in backlog:
                await response.write(_frame(feed.event_id(event), event.kind, event.data))
        spoke = time.monotonic()
        while not stopping.is_set():
            await feed.wait(number, timeout=1.0)
            fresh = feed.since(number)
            for event in fresh:
                await response.write(_frame(feed.event_id(event), event.kind, event.data))
                number = event.number
            if fresh or time.monotonic() - spoke >= KEEPALIVE_SECONDS:
                if not fresh:
                    await response.write(b": keep-alive\n\n")
                spoke = time.monotonic()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


def _frame(event_id: str, kind: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {body}\n\n".encode()


async def _connect(settings: Settings) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(
        settings.dsn,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )
    await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
    return conn


async def _healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def _readyz(checks: Callable[[], dict[str, bool]]) -> Handler:
    async def readyz(request: web.Request) -> web.StreamResponse:
        found = await asyncio.get_running_loop().run_in_executor(None, checks)
        return web.json_response(found, status=200 if all(found.values()) else 503)

    return readyz


async def _metrics(request: web.Request) -> web.StreamResponse:
    response = web.Response(body=generate_latest(REGISTRY))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
