"""The read API's HTTP server (aiohttp): ``/api/<endpoint>`` pages, ``/api/openapi.json``, and
``/login?token=`` which trades the token for an HttpOnly, SameSite=Strict cookie and sends the
browser on without the token in its address. Every ``/api/`` request needs the token (bearer
header or that cookie). ``/healthz``, ``/readyz`` and ``/metrics`` answer without it, as every
fillstream process's do, on loopback."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from psycopg import sql

from api.endpoints import ENDPOINTS, Endpoint
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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN = ("/healthz", "/readyz", "/metrics", "/login")


def create_app(settings: Settings, checks: Callable[[], dict[str, bool]]) -> web.Application:
    token = settings.require_token()

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _OPEN or _allowed(request, token):
            return await handler(request)
        return _problem(401, "the token is required: Authorization: Bearer <token>, or /login")

    app = web.Application(middlewares=[authorize])
    app.router.add_get("/login", _login(token))
    app.router.add_get("/api/openapi.json", _openapi)
    for endpoint in ENDPOINTS:
        app.router.add_get(endpoint.path, _listing(settings, endpoint))
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
            return _problem(401, "not the token: copy the login URL `fillstream dashboard` prints")
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                            secure=request.secure)  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return login


async def _openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(document())


def _listing(settings: Settings, endpoint: Endpoint) -> Handler:
    async def listing(request: web.Request) -> web.StreamResponse:
        try:
            query = parse(endpoint, request.query)
        except QueryError as e:
            REQUESTS.labels(endpoint.name, "400").inc()
            return _problem(400, str(e), parameter=e.parameter)
        text, args = statement(query)
        try:
            rows = await _fetch(settings, text, args)
        except psycopg.Error as e:
            log.warning("%s: %s", endpoint.path, first_line(e))
            REQUESTS.labels(endpoint.name, "503").inc()
            return _problem(503, f"the database did not answer: {first_line(e)}")
        REQUESTS.labels(endpoint.name, "200").inc()
        return web.json_response(page(query, rows))

    return listing


async def _fetch(settings: Settings, text: sql.Composed, args: list[Any]) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(
        settings.dsn,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    ) as conn:
        await conn.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace))
        )
        cursor = await conn.execute(text, args)
        return await cursor.fetchall()


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


def _problem(status: int, error: str, **more: str) -> web.Response:
    return web.json_response({"error": error, **more}, status=status)
