"""The read API on the real stack: executions posted through the bridge become trades that
``fillstream api`` serves page by page (keyset cursors, filters, decimals as strings), equal to
the trades view row for row; nothing without the token; /login trades the token for an HttpOnly,
SameSite=Strict cookie; the declarations agree with the view PostgreSQL defines."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.client import HTTPResponse
from typing import Any

import pytest

from api.endpoints import TRADES, Kind
from api.openapi import document
from api.queries import to_json
from core.settings import Settings
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

TYPES = {Kind.TEXT: "text", Kind.INTEGER: "integer", Kind.DECIMAL: "numeric",
         Kind.TIMESTAMP: "timestamp with time zone", Kind.SECONDS: "interval",
         Kind.TEXTS: "ARRAY"}  # fmt: skip


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
    assert post(settings, session(start, 7))[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(7,)], timeout=90,
             message="the trades were not projected")  # fmt: skip

    # the declarations are the view's columns, with their types
    declared = {c.name: TYPES[c.kind] for c in TRADES.columns}
    columns = query(settings, "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = 'trades'",
                    (settings.namespace,))  # fmt: skip
    assert {n: t for n, t in columns if n != "projected_xid"} == declared

    # every page, walked by its cursor, is the view in order, as JSON
    names = [c.name for c in TRADES.columns]
    rows = query(settings, f"SELECT {', '.join(names)} FROM trades"
                 " ORDER BY exit_time DESC, trade_id DESC")  # fmt: skip
    expected = [{c.name: to_json(c.kind, v) for c, v in zip(TRADES.columns, row, strict=True)}
                for row in rows]  # fmt: skip
    walked, path, pages = [], "/api/trades?limit=3", 0
    while path:
        body = authorized(settings, path)
        walked += body["items"]
        pages += 1
        path = f"/api/trades?limit=3&cursor={body['next']}" if body["next"] else ""
    assert walked == expected and pages == 3
    assert isinstance(walked[0]["net_pnl"], str) and walked[0]["exit_time"].endswith("Z")

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
