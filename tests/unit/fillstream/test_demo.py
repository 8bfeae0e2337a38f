"""The generated demo session (pure) and the demo command's bridge client (against a local stub)."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidEventsError, ServiceError
from fillstream.commands import demo as cmd_demo
from fillstream.demo import (
    DEFAULT_START,
    expected_trade_count,
    generate_session,
    summarize,
)

TICK = Decimal("0.25")
QUOTE_PRICES = {"open", "high", "low", "close", "bid", "ask", "price"}
PRICE_FIELDS = QUOTE_PRICES | {"limit_price", "stop_price", "intended_stop", "intended_target"}
ENVELOPE = {"type", "ts_event", "source", "producer"}
EXECUTION_FIELDS = ENVELOPE | {"execution_id", "account", "instrument", "side", "quantity"}
EXECUTION_FIELDS |= {"price", "commission", "fees"}
TYPES = {
    "bar", "execution", "execution_corrected", "heartbeat", "instrument", "order", "position",
    "signal",
}  # fmt: skip


@pytest.fixture(scope="module")
def session() -> list[dict[str, Any]]:
    return generate_session()


def executions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "execution"]


def signed_quantity(events: list[dict[str, Any]]) -> int:
    return sum(e["quantity"] if e["side"] == "buy" else -e["quantity"] for e in executions(events))


def ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["ts_event"])


# -- the session -------------------------------------------------------------------------------


def test_same_seed_gives_the_same_session(session: list[dict[str, Any]]) -> None:
    assert generate_session(seed=7) == session
    assert generate_session(seed=8) != session


def test_events_are_json_ready(session: list[dict[str, Any]]) -> None:
    assert json.loads(json.dumps(session)) == session


def test_events_are_in_event_time_order(session: list[dict[str, Any]]) -> None:
    times = [ts(e) for e in session]
    assert times == sorted(times)
    assert all(e["ts_event"].endswith("Z") for e in session)
    assert times[0] == DEFAULT_START
    assert times[-1] < DEFAULT_START + timedelta(minutes=391)


def test_every_event_carries_the_envelope(session: list[dict[str, Any]]) -> None:
    assert all(e.keys() >= ENVELOPE and e["source"] == "demo" for e in session)
    assert set(summarize(session)) == TYPES


def test_prices_are_on_the_tick_grid(session: list[dict[str, Any]]) -> None:
    prices = [Decimal(e[f]) for e in session for f in PRICE_FIELDS if f in e]
    assert len(prices) > 2_000
    assert all(p % TICK == 0 and p > 0 for p in prices)


def test_bars_are_consistent(session: list[dict[str, Any]]) -> None:
    bars = [e for e in session if e["type"] == "bar"]
    assert len(bars) == 390
    for bar in bars:
        low, high = Decimal(bar["low"]), Decimal(bar["high"])
        assert low <= Decimal(bar["open"]) <= high and low <= Decimal(bar["close"]) <= high


def test_session_ends_flat(session: list[dict[str, Any]]) -> None:
    assert signed_quantity(session) == 0
    last = [e for e in session if e["type"] == "position"][-1]
    assert (last["market_position"], last["quantity"]) == ("flat", 0)


def test_some_orders_fill_in_parts(session: list[dict[str, Any]]) -> None:
    fills_per_order = Counter(e["order_id"] for e in executions(session))
    assert max(fills_per_order.values()) >= 2
    assert any(e["type"] == "order" and e["state"] == "part_filled" for e in session)


def test_positions_scale_out_at_two_targets(session: list[dict[str, Any]]) -> None:
    targets: dict[str, set[str]] = {}
    for e in executions(session):
        if e["order_name"] == "Profit target":
            targets.setdefault(e["signal_id"], set()).add(e["order_id"])
    assert any(len(orders) == 2 for orders in targets.values())


def test_orders_walk_their_states(session: list[dict[str, Any]]) -> None:
    states = Counter(e["state"] for e in session if e["type"] == "order")
    assert {"submitted", "accepted", "working", "part_filled", "filled", "cancelled"} <= set(states)
    assert states["submitted"] == states["accepted"] == states["working"]


def test_commissions_are_positive(session: list[dict[str, Any]]) -> None:
    for e in executions(session):
        assert Decimal(e["commission"]) == Decimal("2.09") * e["quantity"] > 0


def test_executions_carry_the_contract_fields(session: list[dict[str, Any]]) -> None:
    announced = {e["order_id"] for e in session if e["type"] == "order"}
    for e in executions(session):
        assert e.keys() >= EXECUTION_FIELDS
        assert e["side"] in ("buy", "sell") and isinstance(e["quantity"], int) and e["quantity"] > 0
        assert e["position_effect"] in ("entry", "exit") and e["order_id"] in announced
        assert e["order_name"] in ("Entry", "Stop loss", "Profit target", "Exit")


def test_heartbeats_every_five_minutes(session: list[dict[str, Any]]) -> None:
    beats = [e for e in session if e["type"] == "heartbeat"]
    assert [b["sequence"] for b in beats] == list(range(1, len(beats) + 1))
    assert {ts(b) - ts(a) for a, b in zip(beats, beats[1:], strict=False)} == {timedelta(minutes=5)}


def test_a_default_session_trades_enough(session: list[dict[str, Any]]) -> None:
    assert 10 <= summarize(session)["signal"] <= 40
    assert expected_trade_count(session) > 5


def test_summarize_counts_per_type() -> None:
    events = [{"type": "bar"}, {"type": "order"}, {"type": "bar"}]
    assert summarize(events) == {"bar": 2, "order": 1}


# -- the FIFO trade count ----------------------------------------------------------------------


def fill(side: str, quantity: int, strategy: str = "S") -> dict[str, Any]:
    key = {"account": "A", "instrument": "NQ 12-26", "strategy": strategy}
    return {"type": "execution", **key, "side": side, "quantity": quantity}


def test_a_trade_is_one_entry_execution_times_one_exit_execution() -> None:
    # entries 2 + 1, exits 1 + 2: (e1, x1), (e1, x2), (e2, x2)
    events = [fill("buy", 2), fill("buy", 1), fill("sell", 1), fill("sell", 2)]
    assert expected_trade_count(events) == 3


def test_a_reversal_closes_and_opens() -> None:
    events = [fill("buy", 1), fill("sell", 3), fill("buy", 2)]
    assert expected_trade_count(events) == 2


def test_strategies_are_matched_apart() -> None:
    assert expected_trade_count([fill("buy", 1, "S"), fill("sell", 1, "T")]) == 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), minutes=st.integers(30, 390))
def test_every_session_ends_flat_with_unique_ids(seed: int, minutes: int) -> None:
    events = generate_session(seed=seed, minutes=minutes)
    assert signed_quantity(events) == 0
    execution_ids = [e["execution_id"] for e in executions(events)]
    signal_ids = [e["signal_id"] for e in events if e["type"] == "signal"]
    submitted = [e for e in events if e["type"] == "order" and e["state"] == "submitted"]
    order_ids = [e["order_id"] for e in submitted]
    for ids in (execution_ids, signal_ids, order_ids):
        assert len(ids) == len(set(ids))
    assert all(i.startswith(f"demo-{seed}-") for i in execution_ids + signal_ids + order_ids)
    times = [ts(e) for e in events]
    assert times == sorted(times)


# -- the command's bridge client, against a stub bridge on localhost ------------------------


class StubBridge(BaseHTTPRequestHandler):
    status = 202
    reply: dict[str, Any] = {}
    received: list[tuple[str, str, list[dict[str, Any]]]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.headers["Authorization"], self.headers["Content-Type"], body))
        reply = self.reply or {"accepted": len(body)}
        payload = json.dumps(reply).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bridge() -> Iterator[tuple[str, type[StubBridge]]]:
    handler = type("Handler", (StubBridge,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1/events", handler
    server.shutdown()
    server.server_close()


def test_send_posts_batches_with_the_token(bridge: tuple[str, type[StubBridge]]) -> None:
    url, handler = bridge
    events = generate_session(minutes=40)
    assert cmd_demo.send(events, url=url, token="t" * 32, batch_size=100) == len(events)
    assert [len(body) for _, _, body in handler.received][:-1] == [100] * (len(events) // 100)
    assert [e for _, _, body in handler.received for e in body] == events
    assert {(auth, kind) for auth, kind, _ in handler.received} == {
        (f"Bearer {'t' * 32}", "application/json")
    }


def test_a_wrong_token_is_named(bridge: tuple[str, type[StubBridge]]) -> None:
    url, handler = bridge
    handler.status, handler.reply = 401, {"error": "missing or wrong bearer token"}
    with pytest.raises(ServiceError, match="FILLSTREAM_TOKEN does not match"):
        cmd_demo.post_batch([{"type": "bar"}], url=url, token="wrong")


def test_rejected_events_are_numbered_in_the_session(bridge: tuple[str, type[StubBridge]]) -> None:
    url, handler = bridge
    handler.status = 422
    handler.reply = {
        "errors": [
            {"index": 1, "field": "price", "reason": "must be positive"},
            {"field": "[2].side", "reason": "must be buy or sell"},  # the bridge's own form
        ]
    }
    with pytest.raises(InvalidEventsError) as caught:
        cmd_demo.post_batch([{}, {}, {}], url=url, token="t" * 32, offset=200)
    assert [str(e) for e in caught.value.errors] == [
        "events[201].price: must be positive",
        "events[202].side: must be buy or sell",
    ]


def test_an_absent_bridge_suggests_starting_the_stack() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ServiceError, match="not reachable at .*fillstream up"):
        cmd_demo.post_batch([{"type": "bar"}], url=f"http://127.0.0.1:{port}/v1/events", token="t")


def test_main_without_waiting_sends_the_session(
    bridge: tuple[str, type[StubBridge]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = bridge
    monkeypatch.setenv("FILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("FILLSTREAM_TOKEN", "s" * 32)
    monkeypatch.setenv("FILLSTREAM_BRIDGE_PORT", url.split(":")[2].split("/")[0])
    assert cmd_demo.main(["--seed", "3", "--minutes", "60", "--no-wait"]) == 0
    sent = [e for _, _, body in handler.received for e in body]
    assert sent == generate_session(seed=3, minutes=60)
    out = capsys.readouterr().out
    assert f"sent {len(sent)} events" in out and "where to look" in out and "/metrics" in out
