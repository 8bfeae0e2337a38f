"""The read API on the real stack: executions posted through the bridge become trades that
``fillstream api`` serves page by page (keyset cursors, filters, decimals as strings), equal to
the trades view row for row; nothing without the token; /login trades the token for an HttpOnly,
SameSite=Strict cookie; the declarations agree with the view PostgreSQL defines."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.client import HTTPResponse
from typing import Any

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
from schemas.catalog import DERIVED_ALERTS, record_headers
from schemas.codec import default_codec
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity, schema_name
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

TYPES = {Kind.TEXT: {"text"}, Kind.INTEGER: {"integer", "bigint"}, Kind.DECIMAL: {"numeric"},
         Kind.TIMESTAMP: {"timestamp with time zone"}, Kind.SECONDS: {"interval"},
         Kind.TEXTS: {"ARRAY"}, Kind.NUMBER: {"double precision"},
         Kind.BOOLEAN: {"boolean"}, Kind.OBJECT: {"jsonb"}}  # fmt: skip
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
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


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
    # (the figures may still be on their way: each is compared until it has settled)
    for endpoint in ENDPOINTS:
        wait_for(lambda e=endpoint: walk(settings, e, limit=3) == view_rows(settings, e),  # type: ignore[misc]
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
    figures = walk(settings, PERFORMANCE, limit=3)
    assert figures and any(f["scope"] == "account" and f["scope_key"] == "Sim101" for f in figures)

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
