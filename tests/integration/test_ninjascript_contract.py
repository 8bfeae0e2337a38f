"""The NinjaTrader AddOn's payloads against the real bridge: every golden file is accepted whole
and lands, exact, on its raw topic; the C# client itself delivers through HTTP; and an assignment
request is answered "control"."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from bridge.parsing import EVENT_CLASSES
from core.settings import Settings
from schemas.codec import default_codec
from schemas.events import (
    BarClosed,
    BridgeHeartbeat,
    Event,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    GateAction,
    GateChanged,
    InstrumentDefined,
    OrderUpdated,
    PositionUpdated,
    SignalEmitted,
)
from tests.fixtures import ninjascript
from tests.fixtures.pipeline import ServiceProcess, end_offsets, post
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

TOPICS = {
    "execution": "raw.executions",
    "order": "raw.orders",
    "position": "raw.positions",
    "signal": "raw.signals",
    "bar": "raw.market",
    "heartbeat": "raw.heartbeats",
    "execution_corrected": "raw.executions",  # behind the execution it amends
    "execution_busted": "raw.executions",
    "instrument": "raw.instruments",
    "flattened": "control.gate",
}


@pytest.fixture
def bridge(settings: Settings) -> Iterator[ServiceProcess]:
    service = ServiceProcess(settings, "bridge", settings.bridge_port).start()
    try:
        yield service
    finally:
        service.stop()
        print(f"----- bridge log -----\n{service.log_tail(60)}")  # shown when a test fails


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ninjascript.build_harness(tmp_path_factory.mktemp("ninjascript"))


def golden_events(without: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in ninjascript.golden_files():
        events += json.loads(path.read_bytes())
    return [e for e in events if e["type"] not in without]


def logged(settings: Settings, topic: str, expected: int) -> list[Event]:
    """Every record of a raw topic, partition by partition in log order, once ``expected`` are
    there (and checked to be all there are)."""
    wait_for(
        lambda: sum(end_offsets(settings, topic).values()) >= expected,
        timeout=30,
        message=f"{topic}: fewer than {expected} records",
    )
    assert sum(end_offsets(settings, topic).values()) == expected, f"{topic}: more than {expected}"
    name = settings.topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "tests-ninjascript",
            "enable.auto.commit": False,
        }
    )
    codec = default_codec()
    events: list[Event] = []
    try:
        for partition, high in end_offsets(settings, topic).items():
            if high == 0:
                continue
            consumer.assign([TopicPartition(name, partition, 0)])
            while True:
                message = consumer.poll(10)
                assert message is not None, f"{name}[{partition}] stopped short of offset {high}"
                assert message.error() is None, message.error()
                events.append(codec.decode(message.value() or b""))
                if (message.offset() or 0) + 1 >= high:
                    break
    finally:
        consumer.close()
    return events


def logged_by_type(
    settings: Settings, without: frozenset[str] = frozenset()
) -> dict[str, list[Event]]:
    expected = Counter(TOPICS[event["type"]] for event in golden_events(without))
    by_topic = {topic: logged(settings, topic, expected[topic]) for topic in set(TOPICS.values())}
    return {
        kind: [e for e in by_topic[topic] if isinstance(e, EVENT_CLASSES[kind])]
        for kind, topic in TOPICS.items()
    }


def assert_golden_contents(
    by_type: dict[str, list[Event]], without: frozenset[str] = frozenset()
) -> None:
    sent = golden_events(without)
    executions = [e for e in by_type["execution"] if isinstance(e, ExecutionReported)]
    assert sorted(
        (e.execution_id, e.side, e.quantity, e.price, e.commission) for e in executions
    ) == sorted(
        (e["execution_id"], e["side"], e["quantity"], Decimal(e["price"]), Decimal(e["commission"]))
        for e in sent
        if e["type"] == "execution"
    )
    prices: dict[str, Decimal] = {e.execution_id: e.price for e in executions}
    assert prices["e2a9c4f0b7d34c1e9a8b7c6d5e4f3a21"] == Decimal("21000.25")
    assert prices["7301249999"] == Decimal("5745")
    assert all(e.envelope.event_id.startswith("x-") for e in executions)
    assert {e.envelope.producer for events in by_type.values() for e in events} == {
        "fillstream-nt8-addon/0.1.0"
    }

    orders = [e for e in by_type["order"] if isinstance(e, OrderUpdated)]
    filled = next(o for o in orders if o.state == "filled")
    assert filled.average_fill_price == Decimal("21000.3333333333")
    rejected = next(o for o in orders if o.state == "rejected")
    assert rejected.error is not None and rejected.error.startswith("OrderRejected: ")

    positions = [e for e in by_type["position"] if isinstance(e, PositionUpdated)]
    assert Counter(p.market_position for p in positions) == Counter(
        e["market_position"] for e in sent if e["type"] == "position"
    )
    for kind in ("execution_corrected", "execution_busted"):
        amended = sorted(e.execution_id for e in by_type[kind]
                         if isinstance(e, ExecutionCorrected | ExecutionBusted))  # fmt: skip
        assert amended == sorted(e["execution_id"] for e in sent if e["type"] == kind), kind
        assert amended, kind
    assert {i.root for i in by_type["instrument"] if isinstance(i, InstrumentDefined)} == {
        "NQ", "ES", "FDAX"
    }  # fmt: skip

    flattened = sorted(
        (f.account, f.halt_id, f.instruments, f.reason, f.action, f.actor)
        for f in by_type["flattened"] if isinstance(f, GateChanged)
    )  # fmt: skip
    assert flattened == sorted(
        (e["account"], e["halt_id"], tuple(e["instruments"]), e["reason"], GateAction.FLATTENED,
         "fillstream-nt8-addon/0.1.0")
        for e in sent if e["type"] == "flattened"
    )  # fmt: skip
    assert flattened or "flattened" in without

    signals: dict[str, SignalEmitted] = {
        e.signal_id: e for e in by_type["signal"] if isinstance(e, SignalEmitted)
    }
    full = signals["or-2026-09-22-0935"]
    assert (full.strategy, full.intended_stop, full.features["zscore_20"]) == (
        "Opening Range \u2013 v2",
        Decimal("20990.25"),
        -1.375,
    )
    assert signals["fade-2026-09-22-0952"].direction == "short"

    bars = sorted(
        (b.instrument, b.close, b.bid) for b in by_type["bar"] if isinstance(b, BarClosed)
    )
    assert bars == [
        ("ES 12-26", Decimal("5749.5"), None),
        ("NQ 12-26", Decimal("21003"), Decimal("21002.75")),
    ]

    beats = [e for e in by_type["heartbeat"] if isinstance(e, BridgeHeartbeat)]
    assert sorted(b.sequence for b in beats) == [1, 2]
    assert {b.accounts for b in beats} == {("Apex-12345", "Sim101")}


def assign(settings: Settings, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{settings.bridge_url}/v1/assignments",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_every_golden_payload_is_accepted_whole_and_logged_exactly(
    settings: Settings, bridge: ServiceProcess
) -> None:
    for path in ninjascript.golden_files():
        body = path.read_bytes()
        status, answer = post(settings, None, raw=body)
        assert status == 202, (path.name, answer)
        assert answer["accepted"] == len(json.loads(body)), (path.name, answer)

    assert_golden_contents(logged_by_type(settings))


def test_the_csharp_client_delivers_through_http_and_drops_what_the_bridge_refuses(
    settings: Settings, bridge: ServiceProcess, harness: Path
) -> None:
    assert settings.token is not None
    result = ninjascript.run_harness(harness, "send", settings.bridge_url, settings.token)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert output.rstrip().endswith("done"), output
    assert "arm=control" in output
    assert "refused 1 events with 422" in output and "price" in output, output
    assert "retrying" not in output, output

    # a real bridge has no halt in force: the AddOn flattens nothing
    nothing_halted = frozenset({"flattened"})
    assert_golden_contents(logged_by_type(settings, nothing_halted), nothing_halted)


def test_an_assignment_is_answered_control(settings: Settings, bridge: ServiceProcess) -> None:
    status, answer = assign(
        settings, {"signal_id": "or-2026-09-22-0935", "strategy": "Opening Range \u2013 v2"}
    )
    assert status == 200
    assert answer["arm"] == "control"
    assert answer["signal_id"] == "or-2026-09-22-0935"
