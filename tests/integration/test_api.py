"""The read API on the real stack: executions posted through the bridge become trades that
``fillstream api`` serves page by page (keyset cursors, filters, decimals as strings), equal to
the trades view row for row; nothing without the token; /login trades the token for an HttpOnly,
SameSite=Strict cookie; the declarations agree with the view PostgreSQL defines."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.client import HTTPResponse
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from confluent_kafka import Producer

from api.endpoints import (
    ACTIVE_ALERTS,
    ENDPOINTS,
    PERFORMANCE,
    POSITIONS,
    TRADES,
    Endpoint,
    Kind,
)
from api.openapi import document
from api.queries import to_json
from core.kafka import producer_config
from core.settings import Settings
from domain.performance.figures import trading_day
from schemas.catalog import DERIVED_ALERTS, record_headers
from schemas.codec import default_codec
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity, schema_name
from tests.fixtures.pipeline import ServiceProcess, answered, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

TYPES = {Kind.TEXT: {"text"}, Kind.INTEGER: {"integer", "bigint"}, Kind.DECIMAL: {"numeric"},
         Kind.TIMESTAMP: {"timestamp with time zone"}, Kind.SECONDS: {"interval"},
         Kind.TEXTS: {"ARRAY"}, Kind.NUMBER: {"double precision"},
         Kind.BOOLEAN: {"boolean"}, Kind.OBJECT: {"jsonb"}, Kind.DATE: {"date"},
         Kind.VERDICTS: {"jsonb"}}  # fmt: skip
NOT_SERVED = {"trades": {"projected_xid"}}
"""View columns an endpoint leaves out."""


@pytest.fixture
def stack(settings: Settings) -> Iterator[tuple[Pipeline, ServiceProcess]]:
    for pipeline in running(settings):
        api = ServiceProcess(settings, "api", settings.api_port).start()
        try:
            yield pipeline, api
        finally:
            api.stop()
            print(f"----- api log -----\n{api.log_tail(60)}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(settings: Settings, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"{settings.api_url}{path}", headers=headers or {})
    return answered(request, timeout=10)


def authorized(settings: Settings, path: str) -> Any:
    status, body = get(settings, path, {"Authorization": f"Bearer {settings.token}"})
    assert status == 200, body
    return body


def view_rows(settings: Settings, endpoint: Endpoint) -> list[dict[str, Any]]:
    """The view's rows in the endpoint's order, as the API writes them."""
    names = ", ".join(c.name for c in endpoint.columns)
    order = ", ".join(f"{c} DESC" for c in endpoint.order)
    rows = query(settings, f"SELECT {names} FROM {endpoint.view} ORDER BY {order}")
    return [{c.name: to_json(c.kind, v) for c, v in zip(endpoint.columns, row, strict=True)}
            for row in rows]  # fmt: skip


def walk(settings: Settings, endpoint: Endpoint, limit: int) -> list[dict[str, Any]]:
    """Every page of ``endpoint``, following ``next``."""
    walked: list[dict[str, Any]] = []
    path = f"{endpoint.path}?limit={limit}"
    while path:
        body = authorized(settings, path)
        assert len(body["items"]) <= limit
        walked += body["items"]
        path = f"{endpoint.path}?limit={limit}&cursor={body['next']}" if body["next"] else ""
    return walked


CLOCKED = {"availability", "up_seconds", "observed_seconds", "unhealthy_seconds",
           "stopped_seconds", "silent_seconds", "meets_target"}  # fmt: skip
"""Columns of the uptime views that grow with the clock."""


def steady(endpoint: Endpoint, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not endpoint.name.startswith("uptime_"):
        return rows
    return [{k: v for k, v in row.items() if k not in CLOCKED} for row in rows]


def session(start: datetime, count: int) -> list[dict[str, Any]]:
    """``count`` round trips in NQ on two accounts, a minute apart."""
    fills = []
    for n in range(count):
        account = "Sim101" if n % 2 else "Apex-1"
        at = start + timedelta(minutes=2 * n)
        iso = at.isoformat().replace("+00:00", "Z")
        out = (at + timedelta(seconds=50)).isoformat().replace("+00:00", "Z")
        fills.append(execution(f"in-{n}", "buy", "21000.25", ts=iso, account=account))
        fills.append(execution(f"out-{n}", "sell", str(21000 + n % 7), ts=out, account=account))
    return fills


def test_the_api_serves_the_trades_view_page_by_page_behind_the_token(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess]
) -> None:
    start = datetime(2026, 9, 22, 14, tzinfo=UTC)
    an_hour_later = (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    still_open = execution("open-1", "buy", "21003", account="Sim101", ts=an_hour_later)
    assert post(settings, [*session(start, 7), still_open])[0] == 202
    raised = AlertChanged(
        envelope=Envelope(event_id=EventId("api|dd"), ts_event=start, ts_ingested=start,
                          producer="tests"),
        rule="dd", key="account=Sim101", state=AlertState.RAISED, severity=Severity.CRITICAL,
        summary="account=Sim101: drawdown 2,600.00 USD (limit 2,500.00)", raised_at=start,
        labels={"account": "Sim101"},
    )  # fmt: skip
    producer = Producer(producer_config(settings))
    codec = default_codec()
    producer.produce(settings.topic(DERIVED_ALERTS), key=b"dd|account=Sim101",
                     value=codec.encode(raised),
                     headers=list(record_headers(schema_name(raised), "api|dd")))  # fmt: skip
    assert producer.flush(10) == 0
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(7,)]
             and query(settings, "SELECT count(*) FROM positions") == [(1,)]
             and query(settings, "SELECT count(*) FROM alerts_active") == [(1,)], timeout=90,
             message="the trades and the open position were not projected")  # fmt: skip

    # the declarations are the views' columns, with their types
    for endpoint in ENDPOINTS:
        columns = query(settings, "SELECT column_name, data_type FROM information_schema.columns"
                        " WHERE table_schema = %s AND table_name = %s",
                        (settings.namespace, endpoint.view))  # fmt: skip
        assert {n for n, _ in columns} - NOT_SERVED.get(endpoint.name, set()) == {
            c.name for c in endpoint.columns
        }, endpoint.name
        for name, data_type in columns:
            if name not in NOT_SERVED.get(endpoint.name, set()):
                assert data_type in TYPES[endpoint.column(name).kind], (endpoint.name, name)

    # every page, walked by its cursor, is the view in order, as JSON
    # (the figures may still be on their way: each is compared until it has settled; uptime
    # grows with the clock, so its seconds are left out)
    for endpoint in ENDPOINTS:
        wait_for(lambda e=endpoint: steady(e, walk(settings, e, limit=3))  # type: ignore[misc]
                 == steady(e, view_rows(settings, e)),
                 timeout=60, message=f"{endpoint.path} is not its view")  # fmt: skip
    expected = view_rows(settings, TRADES)
    assert len(walk(settings, TRADES, limit=3)) == 7 and len(expected) == 7
    walked = walk(settings, TRADES, limit=3)
    assert isinstance(walked[0]["net_pnl"], str) and walked[0]["exit_time"].endswith("Z")
    (position,) = walk(settings, POSITIONS, limit=3)
    assert (position["account"], position["quantity"], position["average_price"]) == (
        "Sim101", 1, "21003"
    )  # fmt: skip
    (active,) = walk(settings, ACTIVE_ALERTS, limit=3)
    assert (active["rule"], active["labels"]) == ("dd", {"account": "Sim101"})
    figures = wait_for(lambda: walk(settings, PERFORMANCE, limit=3), timeout=60,
                       message="no performance figures were projected")  # fmt: skip
    assert any(f["scope"] == "account" and f["scope_key"] == "Sim101" for f in figures)

    # filters
    sim = authorized(settings, "/api/trades?account=Sim101")["items"]
    assert [t["trade_id"] for t in sim] == [t["trade_id"] for t in expected
                                             if t["account"] == "Sim101"]  # fmt: skip
    cut = (start + timedelta(minutes=6)).isoformat().replace("+00:00", "Z")
    late = authorized(settings, f"/api/trades?from={cut}")["items"]
    assert late and all(t["exit_time"] >= cut for t in late)
    assert len(late) + len(authorized(settings, f"/api/trades?to={cut}")["items"]) == 7

    # bad parameters are named
    status, body = get(
        settings, "/api/trades?limit=0", {"Authorization": f"Bearer {settings.token}"}
    )
    assert status == 400 and body["parameter"] == "limit"
    status, body = get(
        settings, "/api/trades?colour=red", {"Authorization": f"Bearer {settings.token}"}
    )
    assert status == 400 and body["parameter"] == "colour"

    # the OpenAPI document, generated
    assert authorized(settings, "/api/openapi.json") == json.loads(json.dumps(document()))


def test_nothing_is_served_without_the_token_and_login_sets_the_cookie(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess]
) -> None:
    for path in ("/api/trades", "/api/openapi.json"):
        assert get(settings, path)[0] == 401
        assert get(settings, path, {"Authorization": "Bearer not-the-token"})[0] == 401
        assert get(settings, path, {"Cookie": "fillstream_token=not-the-token"})[0] == 401
    assert get(settings, "/login?token=not-the-token")[0] == 401
    assert get(settings, "/readyz")[0] == 200  # as every process's, without the token

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(f"{settings.api_url}/login?token={settings.token}", timeout=10)
    response: HTTPResponse = caught.value  # type: ignore[assignment]
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    value = cookie.split(";")[0]
    assert value == f"fillstream_token={settings.token}"
    assert get(settings, "/api/trades", {"Cookie": value})[0] == 200


class Stream:
    """An ``/api/events`` stream read on a thread: each event with when it arrived."""

    def __init__(self, settings: Settings, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {settings.token}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = urllib.request.Request(f"{settings.api_url}/api/events", headers=headers)
        self.response = urllib.request.urlopen(request, timeout=30)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.events: list[tuple[float, str, str, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "event" in fields:
                        data = json.loads(fields["data"])
                        at = time.monotonic()
                        self.events.append((at, fields.get("id", ""), fields["event"], data))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        except (OSError, ValueError, AttributeError):  # closed by the test
            return

    def first(self, kind: str, test: Any = lambda data: True) -> tuple[float, str, dict[str, Any]]:
        found: list[tuple[float, str, dict[str, Any]]] = []

        def seen() -> bool:
            found[:] = [(at, i, d) for at, i, k, d in list(self.events) if k == kind and test(d)]
            return bool(found)

        wait_for(seen, timeout=30, message=f"no {kind} event")
        return found[0]

    def close(self) -> None:
        self.response.close()


def test_the_event_stream_carries_changes_within_a_second_and_resumes(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess]
) -> None:
    assert get(settings, "/api/events")[0] == 401
    wait_for(lambda: get(settings, "/readyz")[0] == 200, timeout=30, message="the API is not ready")
    stream = Stream(settings)
    try:
        start = datetime(2026, 9, 23, 14, tzinfo=UTC)
        assert post(settings, session(start, 1))[0] == 202
        projected = [0.0]

        def trade_projected() -> bool:
            if query(settings, "SELECT count(*) FROM trades") == [(1,)]:
                projected[0] = time.monotonic()
                return True
            return False

        wait_for(trade_projected, timeout=90, interval=0.02, message="the trade was not projected")
        (trade,) = walk(settings, TRADES, limit=10)
        arrived, trade_event_id, data = stream.first("trade")
        assert data == trade  # the row as /api/trades shows it
        assert arrived - projected[0] < 1.0, "the trade took over a second to reach the stream"

        later = (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        opening = execution("open-9", "buy", "21010", account="Sim101", ts=later)
        assert post(settings, [opening])[0] == 202
        _, _, position = stream.first("position", lambda d: d["account"] == "Sim101")
        assert (position["quantity"], position["average_price"]) == (1, "21010")
        _, _, figures = stream.first("performance")
        assert figures["trades"] >= 1 and isinstance(figures["net_profit"], str)

        raised_at = datetime.now(UTC)
        raised = AlertChanged(
            envelope=Envelope(event_id=EventId("api|sse"), ts_event=raised_at,
                              ts_ingested=raised_at, producer="tests"),
            rule="daily_loss", key="account=Sim101", state=AlertState.RAISED,
            severity=Severity.WARNING, summary="account=Sim101: daily loss", raised_at=raised_at,
            labels={"account": "Sim101"},
        )  # fmt: skip
        producer = Producer(producer_config(settings))
        producer.produce(settings.topic(DERIVED_ALERTS), key=b"daily_loss|account=Sim101",
                         value=default_codec().encode(raised),
                         headers=list(record_headers(schema_name(raised), "api|sse")))  # fmt: skip
        assert producer.flush(10) == 0
        _, _, alert = stream.first("alert")
        assert (alert["state"], alert["rule"]) == ("raised", "daily_loss")
        assert alert["severity"] == "warning"
    finally:
        stream.close()

    # resumed after the trade's event: what the first stream got after it, in order
    after = [(i, k, d) for _, i, k, d in stream.events]
    after = after[[i for i, _, _ in after].index(trade_event_id) + 1 :]
    resumed = Stream(settings, last_event_id=trade_event_id)
    try:
        wait_for(lambda: len(resumed.events) >= len(after), timeout=10, message="nothing resumed")
        assert [(i, k, d) for _, i, k, d in resumed.events[: len(after)]] == after
    finally:
        resumed.close()
    # an id the feed does not hold (an earlier process's) asks the client to read again
    stale = Stream(settings, last_event_id="1-5")
    try:
        _, _, data = stale.first("resync")
        assert data["reason"]
    finally:
        stale.close()


def test_the_figures_are_the_trades_views(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess]
) -> None:
    """Each figure the dashboard shows, against the same figure computed here from the trades
    view's rows (in Python: an independent reference)."""
    start = datetime(2026, 9, 25, 21, 50, tzinfo=UTC)  # 16:50 in Chicago, a Friday: to Monday
    fills = session(start, 9)
    assert post(settings, fills)[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(9,)], timeout=90,
             message="the trades were not projected")  # fmt: skip
    trades = sorted(view_rows(settings, TRADES), key=lambda t: (t["exit_time"], t["trade_id"]))
    nets = [Decimal(t["net_pnl"]) for t in trades]

    summary = authorized(settings, "/api/summary")
    curve: list[tuple[Decimal, Decimal]] = []
    peak, deepest = Decimal(0), Decimal(0)
    for net in nets:
        equity = (curve[-1][0] if curve else Decimal(0)) + net
        peak = max(peak, equity)
        curve.append((equity, peak - equity))
        deepest = max(deepest, peak - equity)
    wins, losses = sum(n > 0 for n in nets), sum(n < 0 for n in nets)
    assert (summary["trades"], summary["wins"], summary["losses"]) == (9, wins, losses)
    assert Decimal(summary["net_pnl"]) == sum(nets)
    assert Decimal(summary["gross_loss"]) == sum(n for n in nets if n < 0)
    assert Decimal(summary["max_drawdown"]) == deepest
    assert Decimal(summary["win_rate"]) == round(Decimal(wins) / (wins + losses), 6)
    assert summary["last_exit"] == trades[-1]["exit_time"]

    points = authorized(settings, "/api/equity")["items"]
    assert [(Decimal(p["equity"]), Decimal(p["drawdown"])) for p in points] == curve
    assert [p["time"] for p in points] == [t["exit_time"] for t in trades]
    thinned = authorized(settings, "/api/equity?points=4")["items"]
    assert len(thinned) == 4 and sum(p["trades"] for p in thinned) == 9
    assert Decimal(thinned[-1]["equity"]) == sum(nets)
    assert max(Decimal(p["drawdown"]) for p in thinned) == deepest

    days: dict[str, tuple[int, Decimal]] = {}
    for t in trades:
        day = trading_day(datetime.fromisoformat(t["exit_time"])).isoformat()
        n, total = days.get(day, (0, Decimal(0)))
        days[day] = (n + 1, total + Decimal(t["net_pnl"]))
    daily = authorized(settings, "/api/daily")["items"]
    assert {d["day"]: (d["trades"], Decimal(d["net_pnl"])) for d in daily} == days
    assert set(days) == {"2026-09-25", "2026-09-28"}  # from 17:00 in Chicago: Monday's

    by_account = authorized(settings, "/api/breakdown?by=account")["items"]
    assert {b["key"]: (b["trades"], Decimal(b["net_pnl"])) for b in by_account} == {
        a: (sum(1 for t in trades if t["account"] == a),
            sum(Decimal(t["net_pnl"]) for t in trades if t["account"] == a))
        for a in ("Apex-1", "Sim101")
    }  # fmt: skip
    hours = authorized(settings, "/api/breakdown?by=hour&tz=America/Chicago")["items"]
    chicago = ZoneInfo("America/Chicago")
    expected_hours: dict[str, int] = {}
    for t in trades:
        hour = datetime.fromisoformat(t["entry_time"]).astimezone(chicago).strftime("%H")
        expected_hours[hour] = expected_hours.get(hour, 0) + 1
    assert {h["key"]: h["trades"] for h in hours} == expected_hours

    bins = authorized(settings, "/api/distribution?field=net_pnl&bins=4")["items"]
    assert len(bins) == 4 and sum(b["trades"] for b in bins) == 9
    assert Decimal(bins[0]["low"]) == min(nets) and Decimal(bins[-1]["high"]) == max(nets)
    for b in bins:
        inside = [n for n in nets if Decimal(b["low"]) <= n < Decimal(b["high"])]
        assert b["trades"] == len(inside) + (nets.count(max(nets)) if b is bins[-1] else 0)

    sim = authorized(settings, "/api/summary?account=Sim101")
    assert sim["trades"] == sum(1 for t in trades if t["account"] == "Sim101")
    for path, parameter in (("/api/breakdown?by=colour", "by"), ("/api/equity?points=1", "points"),
                            ("/api/breakdown?by=hour&tz=Mars/Olympus", "tz"),
                            ("/api/summary?limit=3", "limit")):  # fmt: skip
        status, body = get(settings, path, {"Authorization": f"Bearer {settings.token}"})
        assert status == 400 and body["parameter"] == parameter, path

    # a trade's detail: its executions where the log holds them
    trade = trades[0]
    detail = authorized(settings, f"/api/trade?trade_id={trade['trade_id']}")
    assert detail["trade"] == trade
    assert [e["execution_id"] for e in detail["executions"]] == trade["execution_ids"]
    assert all(e["kafka_topic"].endswith("raw.executions") and e["kafka_offset"] >= 0
               for e in detail["executions"])  # fmt: skip
    assert get(settings, "/api/trade?trade_id=nope",
               {"Authorization": f"Bearer {settings.token}"})[0] == 404  # fmt: skip

    # every trade as CSV, in the page order, with the columns chosen
    request = urllib.request.Request(
        f"{settings.api_url}/api/trades.csv?columns=trade_id,net_pnl,execution_ids",
        headers={"Authorization": f"Bearer {settings.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.read().decode())))
    assert rows[0] == ["trade_id", "net_pnl", "execution_ids"]
    assert rows[1:] == [[t["trade_id"], t["net_pnl"], " ".join(t["execution_ids"])]
                        for t in reversed(trades)]  # fmt: skip

    # each figure's definition, from the domain's own text
    defined = authorized(settings, "/api/definitions")
    assert defined["version"] == 1 and "wins / (wins + losses)" in defined["figures"]["win_rate"]

    # the processes' latest health checks
    def reported() -> set[str]:
        return {s["service"] for s in authorized(settings, "/api/services")["items"]}

    wait_for(lambda: {"bridge", "worker", "projector"} <= reported(), timeout=60,
             message="the health checks were not projected")  # fmt: skip

    # the stages' consumer groups with their lag, and the projector's latency per projection
    flow = authorized(settings, "/api/pipeline")
    assert {g["group"] for g in flow["groups"]} >= {"projection.trades.v1", "streams.matching"}
    assert all(g["lag"] >= 0 for g in flow["groups"])

    def timed() -> bool:
        latency = authorized(settings, "/api/pipeline")["latency"]
        return any(t["projection"] == "trades" and t["count"] >= 9 for t in latency)

    wait_for(timed, timeout=30, message="no projection latency")

    # the figures are kept until the trades change: one more trade, and they are new
    assert authorized(settings, "/api/summary") == summary
    later = start + timedelta(hours=3)
    assert post(settings, [execution("late-in", "buy", "21000", ts=iso(later)),
                           execution("late-out", "sell", "21010",
                                     ts=iso(later + timedelta(seconds=9)))])[0] == 202  # fmt: skip
    wait_for(lambda: authorized(settings, "/api/summary")["trades"] == 10, timeout=60,
             message="the summary kept the figures of the trades before")  # fmt: skip
    again = authorized(settings, "/api/summary")
    assert Decimal(again["net_pnl"]) == sum(nets) + Decimal(
        query(settings, "SELECT net_pnl FROM trades WHERE exit_time = %s",
              (later + timedelta(seconds=9),))[0][0]
    )  # fmt: skip


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
