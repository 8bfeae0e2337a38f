"""The read API's handlers beyond the view pages: the figures (``api/analytics.py``), a trade's
detail, the processes' health, the trades as CSV, the figures' definitions, the experiments and
silences, the changes a page makes (POST, same origin only, recorded with who = dashboard), the
scheduled reports the notifier made (their list, and each as a page and a PDF, which a signed
link opens without the token), and the dashboard's files."""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from psycopg import sql

from api import analytics
from api.control import EXPERIMENT_ACTIONS, SWITCH_ACTIONS, Control, ControlError
from api.definitions import VERSION, definitions
from api.endpoints import EXECUTIONS, MARKET_BARS, SERVICE_CHECKS, SIGNALS, TRADES
from api.queries import QueryError, columns, conditions, parse, rows_json
from core.errors import ServiceError
from domain.gate.report import evaluate, outcomes, value_json
from domain.reports import signature

log = logging.getLogger("fillstream.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fetch = Callable[[sql.Composed, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]
Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]

CSV_BATCH = 2000
BARS_AROUND = timedelta(minutes=30)
"""A trade's bars: from this long (or the trade's duration, if longer) before the entry to as
long after the exit."""
MAX_BARS = 1000
MAX_SILENCE_SECONDS = 30 * 86_400


def problem(status: int, error: str, **more: str) -> web.Response:
    return web.json_response({"error": error, **more}, status=status)


Cached = Callable[
    [str, sql.Composed, dict[str, Any], Callable[[list[tuple[Any, ...]]], Any]], Awaitable[Any]
]


def analytic(cached: Cached, fetch: Fetch, which: analytics.Analytic) -> Handler:
    """A figure over the trades view, kept until the trades change (``api/cache.py``), unless
    it reads another view too."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            prepared = analytics.prepare(which, request.query)
        except QueryError as e:
            return problem(400, str(e), parameter=e.parameter)
        if not which.trades_only:
            rows = await fetch(analytics.statement(prepared), prepared.args)
            return web.json_response(analytics.answer(prepared, rows))
        key = f"{which.name}?{sorted(request.query.items())}"
        answer = await cached(key, analytics.statement(prepared), prepared.args,
                              lambda rows: analytics.answer(prepared, rows))  # fmt: skip
        return web.json_response(answer)

    return handler


_TRADE = sql.SQL("SELECT {} FROM trades WHERE trade_id = %(id)s").format(columns(TRADES))
_EXECUTIONS = sql.SQL(
    "SELECT {} FROM executions WHERE account = %(account)s AND execution_id = ANY(%(ids)s)"
    " ORDER BY time, execution_id"
).format(columns(EXECUTIONS))
_SIGNAL = sql.SQL(
    "SELECT {} FROM signals WHERE signal_id = %(signal)s AND account = %(account)s"
    " ORDER BY ts_event DESC LIMIT 1"
).format(columns(SIGNALS))
_PERIOD = sql.SQL(
    "SELECT period FROM market_bars WHERE instrument = %(instrument)s"
    " AND close_time >= %(from)s AND close_time <= %(to)s"
    " GROUP BY period ORDER BY count(*) DESC, period LIMIT 1"
)
_BARS = sql.SQL(
    "SELECT {} FROM market_bars WHERE instrument = %(instrument)s AND period = %(period)s"
    " AND close_time >= %(from)s AND close_time <= %(to)s ORDER BY close_time LIMIT %(limit)s"
).format(columns(MARKET_BARS))


def trade_detail(connect: Connect) -> Handler:
    """``/api/trade?trade_id=``: the trade, its executions (where each was read in the log), its
    signal with the features, and the price bars around it (the period with the most bars)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        trade_id = request.query.get("trade_id", "")
        if not trade_id:
            return problem(400, "trade_id: required", parameter="trade_id")
        async with await connect() as conn:
            found = await (await conn.execute(_TRADE, {"id": trade_id})).fetchall()
            if not found:
                return problem(404, f"trade_id: no trade {trade_id!r}", parameter="trade_id")
            (trade,) = rows_json(TRADES, found)
            row = dict(zip((c.name for c in TRADES.columns), found[0], strict=True))
            executions = await (
                await conn.execute(
                    _EXECUTIONS, {"account": row["account"], "ids": list(row["execution_ids"])}
                )
            ).fetchall()
            signal = []
            if row["signal_id"]:
                signal = await (
                    await conn.execute(
                        _SIGNAL, {"signal": row["signal_id"], "account": row["account"]}
                    )
                ).fetchall()
            margin = max(BARS_AROUND, row["duration"] or timedelta(0))
            around = {
                "instrument": row["instrument"],
                "from": row["entry_time"] - margin,
                "to": row["exit_time"] + margin,
            }
            period = await (await conn.execute(_PERIOD, around)).fetchall()
            bars: list[tuple[Any, ...]] = []
            if period:
                bars = await (
                    await conn.execute(_BARS, {**around, "period": period[0][0], "limit": MAX_BARS})
                ).fetchall()
        return web.json_response(
            {
                "trade": trade,
                "executions": rows_json(EXECUTIONS, executions),
                "signal": rows_json(SIGNALS, signal)[0] if signal else None,
                "bars": rows_json(MARKET_BARS, bars),
            }
        )

    return handler


_SERVICES = sql.SQL(
    "SELECT DISTINCT ON (service, instance) {},"
    " ts_event + 2 * interval_seconds * interval '1 second' < now() AS silent"
    " FROM service_checks WHERE ts_event > now() - interval '1 day' AND service <> 'rebuild'"
    " ORDER BY service, instance, ts_event DESC"
).format(columns(SERVICE_CHECKS))


def services(fetch: Fetch) -> Handler:
    """``/api/services``: each process's latest health check of the last day, and whether it
    has gone silent (no check for two intervals)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        rows = await fetch(_SERVICES, {})
        items = [
            {**rows_json(SERVICE_CHECKS, [row[:-1]])[0], "silent": bool(row[-1])} for row in rows
        ]
        return web.json_response({"items": items})

    return handler


def trades_csv(connect: Connect) -> Handler:
    """``/api/trades.csv``: every trade the filters select, in the page order (``sort``,
    ``direction``), ``columns`` of them (default all), streamed a batch at a time."""

    async def handler(request: web.Request) -> web.StreamResponse:
        params = {k: v for k, v in request.query.items() if k != "columns"}
        names = [c.name for c in TRADES.columns]
        chosen = request.query.get("columns", "")
        wanted = [n for n in chosen.split(",") if n] or names
        unknown = [n for n in wanted if n not in names]
        if unknown:
            return problem(400, f"columns: no column {unknown[0]!r}", parameter="columns")
        try:
            query = parse(TRADES, {**params, "limit": "1"})
        except QueryError as e:
            return problem(400, str(e), parameter=e.parameter)
        where, args = conditions(query)
        way = sql.SQL("DESC" if query.descending else "ASC")
        text = sql.SQL("SELECT {} FROM trades{} ORDER BY {}").format(
            columns(TRADES),
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), way) for c in query.order
            ),
        )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="trades.csv"',
                "Cache-Control": "no-store",
            }
        )
        picked = [names.index(n) for n in wanted]
        async with await connect() as conn, conn.transaction():
            cursor = conn.cursor("trades_csv")
            await cursor.execute(text, args)
            await response.prepare(request)
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(wanted)
            while batch := await cursor.fetchmany(CSV_BATCH):
                for row in rows_json(TRADES, batch):
                    values = list(row.values())
                    writer.writerow(_cell(values[i]) for i in picked)
                await response.write(out.getvalue().encode())
                out.seek(0)
                out.truncate()
            await response.write(out.getvalue().encode())
            await cursor.close()
        await response.write_eof()
        return response

    return handler


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else value


async def figure_definitions(request: web.Request) -> web.StreamResponse:
    """``/api/definitions``: each performance figure's definition, and their version."""
    return web.json_response({"version": VERSION, "figures": definitions()})


# --- the control plane's reads and changes ---------------------------------------------------


def _blocking(control: Control | None, call: Callable[[Control], Any]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if control is None:
            return problem(503, "this API process has no control plane")
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, call, control)
        except KeyError as e:
            return problem(404, str(e.args[0]) if e.args else "not found")
        except ControlError as e:
            return problem(409, str(e))
        except ServiceError as e:
            return problem(503, str(e))
        return web.json_response(found)

    return handler


def experiments(control: Control | None) -> Handler:
    return _blocking(control, lambda c: {"items": c.experiments()})


def experiment(control: Control | None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        experiment_id = request.match_info["id"]
        return await _blocking(control, lambda c: c.experiment(experiment_id))(request)

    return handler


def pipeline(control: Control | None) -> Handler:
    return _blocking(control, lambda c: c.pipeline())


def silences(control: Control | None) -> Handler:
    return _blocking(control, lambda c: {"items": c.silences()})


def same_origin(request: web.Request) -> str | None:
    """Why a state-changing request is refused, or None: it must come from a page of this
    server (``Origin``), with a JSON body."""
    origin = request.headers.get("Origin")
    if origin is None:
        return "Origin: required on a change (a page of this server sends it)"
    if origin != f"{request.scheme}://{request.host}":
        return f"Origin: {origin} is not this server"
    if request.content_type != "application/json":
        return "Content-Type: a change is sent as application/json"
    return None


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise QueryError("body", "not JSON") from None
    if not isinstance(body, dict):
        raise QueryError("body", "not a JSON object")
    return body


def _text(body: dict[str, Any], name: str, limit: int = 500) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise QueryError(name, f"a text of at most {limit} characters")
    return value


def change(
    control: Control | None, make: Callable[[Control, web.Request, dict[str, Any]], Any]
) -> Handler:
    """A POST that changes state: same origin, a JSON body, then ``make`` on a thread."""

    async def handler(request: web.Request) -> web.StreamResponse:
        refused = same_origin(request)
        if refused:
            return problem(403, refused)
        if control is None:
            return problem(503, "this API process has no control plane")
        try:
            body = await _body(request)
            done = await asyncio.get_running_loop().run_in_executor(
                None, make, control, request, body
            )
        except QueryError as e:
            return problem(400, str(e), parameter=e.parameter)
        except KeyError as e:
            return problem(404, str(e.args[0]) if e.args else "not found")
        except ControlError as e:
            return problem(409, str(e))
        except ServiceError as e:
            return problem(503, str(e))
        log.info("dashboard: %s %s", request.method, request.path)
        return web.json_response(done)

    return handler


def _experiment_change(control: Control, request: web.Request, body: dict[str, Any]) -> Any:
    action = request.match_info["action"]
    if action not in EXPERIMENT_ACTIONS:
        raise QueryError("action", f"{action!r} is not one of {', '.join(EXPERIMENT_ACTIONS)}")
    return control.change_experiment(request.match_info["id"], action, _text(body, "reason"))


def _switch(control: Control, request: web.Request, body: dict[str, Any]) -> Any:
    action = request.match_info["action"]
    if action not in SWITCH_ACTIONS:
        raise QueryError("action", f"{action!r} is not one of {', '.join(SWITCH_ACTIONS)}")
    return control.switch(action, _text(body, "reason"))


_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _silence(control: Control, request: web.Request, body: dict[str, Any]) -> Any:
    matchers = body.get("matchers")
    if not isinstance(matchers, dict) or not matchers:
        raise QueryError("matchers", "an object of labels and values, at least one")
    for label, value in matchers.items():
        if not _LABEL.match(label) or not isinstance(value, str) or not value:
            raise QueryError("matchers", f"{label!r}: a label name and a text value")
    seconds = body.get("seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise QueryError("seconds", "a whole number of seconds")
    if not 60 <= seconds <= MAX_SILENCE_SECONDS:
        raise QueryError("seconds", f"{seconds} is not between 60 and {MAX_SILENCE_SECONDS}")
    return control.silence(dict(matchers), seconds, _text(body, "comment"))


def _unsilence(control: Control, request: web.Request, body: dict[str, Any]) -> Any:
    return control.unsilence(request.match_info["id"])


def add_control_routes(app: web.Application, control: Control | None) -> None:
    app.router.add_get("/api/experiments", experiments(control))
    app.router.add_get("/api/experiments/{id}", experiment(control))
    app.router.add_get("/api/silences", silences(control))
    app.router.add_get("/api/pipeline", pipeline(control))
    app.router.add_post("/api/experiments/{id}/{action}", change(control, _experiment_change))
    app.router.add_post("/api/kill-switch/{action}", change(control, _switch))
    app.router.add_post("/api/silences", change(control, _silence))
    app.router.add_post("/api/silences/{id}/end", change(control, _unsilence))


# --- the dashboard's files -------------------------------------------------------------------

_NOT_BUILT = (
    "<!doctype html><title>fillstream</title><p>The dashboard is not built: run "
    "<code>make setup</code> (it builds <code>web/</code> with npm).</p>"
)


def add_dashboard(app: web.Application, built: Path) -> None:
    """The built dashboard (``web/dist``): ``/`` and every path that is not the API's answer
    with its page, ``/assets/`` with its files."""
    index = built / "index.html"

    async def page(request: web.Request) -> web.StreamResponse:
        if not index.is_file():
            return web.Response(text=_NOT_BUILT, content_type="text/html", status=503)
        response = web.FileResponse(index)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self'; frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    if (built / "assets").is_dir():
        app.router.add_static("/assets/", built / "assets", append_version=False)
    app.router.add_get("/", page)
    app.router.add_get("/{panel:(trades|performance|monitor|reports)}", page)


GATE_FILTERS = (("account", "account = {}"), ("strategy", "strategy = {}"),
                ("from", "trading_day >= {}"), ("to", "trading_day <= {}"))  # fmt: skip
"""The gate report's filters: query parameter, and its condition on the gate views."""


def gate_statements(args: Mapping[str, Any]) -> tuple[sql.Composed, sql.Composed]:
    """The gate report's two queries, of ``gate_outcomes`` and of ``gate_rule_outcomes``, with
    a named placeholder for each of ``GATE_FILTERS`` given in ``args``."""
    conditions: list[sql.Composable] = [
        sql.SQL(clause).format(sql.Placeholder(name)) for name, clause in GATE_FILTERS
        if name in args
    ]  # fmt: skip
    where = sql.SQL(" AND ").join(conditions or [sql.SQL("true")])
    order = sql.SQL(" ORDER BY decided_at, decision_id")
    return (
        sql.SQL("SELECT decision, net_pnl FROM gate_outcomes WHERE {}").format(where) + order,
        sql.SQL(
            "SELECT rule, kind, mode, verdict, net_pnl FROM gate_rule_outcomes WHERE {}"
        ).format(where)
        + order,
    )


def gate_report(fetch: Fetch) -> Handler:
    """``/api/gate-report``: per rule, what the signals it failed made (paper trades, when
    denied) beside what those it passed made, as ``fillstream gate report`` shows it
    (``domain.gate.report``); ``account``, ``strategy`` and trading days ``from`` to ``to``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        args: dict[str, Any] = {}
        for name, _ in GATE_FILTERS:
            text = request.query.get(name)
            if not text:
                continue
            if name in ("from", "to"):
                try:
                    args[name] = date.fromisoformat(text)
                except ValueError:
                    return problem(400, f"{name}: not a day (YYYY-MM-DD), was {text!r}",
                                   parameter=name)  # fmt: skip
            else:
                args[name] = text
        decided_sql, verdicts_sql = gate_statements(args)
        decided = await fetch(decided_sql, args)
        verdicts = await fetch(verdicts_sql, args)
        values = evaluate(outcomes(decided, verdicts))
        return web.json_response({"items": [value_json(v) for v in values]})

    return handler


_REPORT_PATH = re.compile(r"^/reports/(daily|weekly)/(\d{4}-\d{2}-\d{2})(\.pdf)?$")
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def signed_report(request: web.Request, token: str) -> bool:
    """Whether ``request`` is for a scheduled report with its link's signature
    (``domain.reports.signature``): such a link opens that report alone, without the token."""
    match = _REPORT_PATH.match(request.path)
    given = request.query.get("sig", "")
    if match is None or not given or request.method != "GET":
        return False
    try:
        first = date.fromisoformat(match.group(2))
    except ValueError:
        return False
    return hmac.compare_digest(given.encode(), signature(token, match.group(1), first).encode())


_DOCUMENT = sql.Composed([sql.SQL(
    "SELECT html, pdf FROM report_documents WHERE kind = %(kind)s AND period_first = %(first)s"
)])  # fmt: skip


def report_document(fetch: Fetch) -> Handler:
    """``/reports/<kind>/<first day>`` (the page) and ``….pdf``: a scheduled report as the
    notifier rendered and sent it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        match = _REPORT_PATH.match(request.path)
        if match is None:
            return problem(404, "a report is /reports/daily/<day> or /reports/weekly/<monday>")
        kind, day, as_pdf = match.groups()
        try:
            first = date.fromisoformat(day)
        except ValueError:
            return problem(404, f"{day} is not a day")
        rows = await fetch(_DOCUMENT, {"kind": kind, "first": first})
        if not rows:
            return problem(404, f"no {kind} report of {first} was made")
        page, pdf = rows[0]
        headers = {"Content-Security-Policy": _REPORT_CSP, "Referrer-Policy": "no-referrer",
                   "Cache-Control": "private, max-age=300"}  # fmt: skip
        if as_pdf:
            headers["Content-Disposition"] = f'inline; filename="{kind}-{first}.pdf"'
            return web.Response(body=bytes(pdf), content_type="application/pdf", headers=headers)
        return web.Response(text=page, content_type="text/html", headers=headers)

    return handler


_REPORTS_SQL = """
SELECT r.kind, r.period_first, r.period_last, r.title, r.rendered_at, r.figures -> 'headline',
       coalesce(jsonb_agg(jsonb_build_object('channel', d.channel, 'outcome', d.outcome,
                                             'late', d.late, 'delivered_at', d.delivered_at)
                          ORDER BY d.channel) FILTER (WHERE d.channel IS NOT NULL), '[]')
FROM report_documents r
LEFT JOIN report_deliveries d ON d.kind = r.kind AND d.period_first = r.period_first
WHERE (%(kind)s::text IS NULL OR r.kind = %(kind)s)
GROUP BY r.kind, r.period_first
ORDER BY r.period_first DESC, r.kind
LIMIT %(limit)s
"""
_REPORTS = sql.Composed([sql.SQL(_REPORTS_SQL)])


def reports(fetch: Fetch) -> Handler:
    """``/api/reports``: the scheduled reports made, newest first, with their headline figures
    and each channel's delivery."""

    async def handler(request: web.Request) -> web.StreamResponse:
        kind = request.query.get("kind")
        if kind not in (None, "daily", "weekly"):
            return problem(400, "kind must be daily or weekly", parameter="kind")
        try:
            limit = int(request.query.get("limit", "60"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return problem(400, "limit must be an integer 1-1000", parameter="limit")
        rows = await fetch(_REPORTS, {"kind": kind, "limit": limit})
        items = [
            {"kind": k, "first": first.isoformat(), "last": last.isoformat(), "title": title,
             "rendered_at": rendered.isoformat().replace("+00:00", "Z"),
             "headline": dict(headline or []), "page": f"/reports/{k}/{first}",
             "pdf": f"/reports/{k}/{first}.pdf", "deliveries": deliveries}
            for k, first, last, title, rendered, headline, deliveries in rows
        ]  # fmt: skip
        return web.json_response({"items": items})

    return handler
