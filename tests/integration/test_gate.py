"""The pre-trade gate end to end, on a real broker, bridge, worker and PostgreSQL: trades posted
through the bridge push an account past its daily loss, the next decision is denied naming the
rule, its figure and its limit, and the account is halted; `fillstream gate resume` allows again;
bad requests are refused naming the field with nothing stored; a retry gets the recorded answer;
and after the bridge restarts (its state read again from the log) every logged decision replays
to the same decision."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from bridge.gate_config import load_rules
from bridge.parsing import parse_proposal
from bridge.publisher import kafka_record
from core.kafka import producer_config
from core.settings import Settings
from domain.gate import GateState
from domain.gate import decide as domain_decide
from fillstream.commands.gate import main as gate_main
from schemas.catalog import DERIVED_DECISIONS
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, Source
from tests.fixtures.pipeline import (
    answered,
    end_offsets,
    execution,
    gate_loaded,
    post,
    with_gate_rules,
)
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

RULES = """
[[rule]]
kind = "daily_loss"
scope = { account = "Sim101" }
limit = 500
halt = true

[[rule]]
kind = "duplicate_signal"
limit = 0.001

[[rule]]
kind = "min_reward_risk"
limit = 1.5
mode = "observe"
"""

_signals = count(1)


@pytest.fixture
def gated(settings: Settings, tmp_path: Path) -> Settings:
    return with_gate_rules(settings, tmp_path, RULES)


@pytest.fixture
def pipeline(gated: Settings) -> Iterator[Pipeline]:
    yield from running(gated)


def request(settings: Settings, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    call = urllib.request.Request(
        f"{settings.bridge_url}{path}",
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {settings.token}", **headers},
    )  # fmt: skip
    return answered(call, timeout=15)


def proposal(**overrides: Any) -> dict[str, Any]:
    return {
        "signal_id": f"sig-{next(_signals)}",
        "account": "Sim101",
        "instrument": "NQ 12-26",
        "strategy": "ORB",
        "variant": "v1",
        "direction": "long",
        "entry_price": 21000.25,
        "intended_stop": "20990.25",
        "intended_target": "21030.25",
        "confidence": 0.62,
        "quantity": 2,
        **overrides,
    }


def decide(settings: Settings, **overrides: Any) -> dict[str, Any]:
    status, answer = request(settings, "/v1/decisions", proposal(**overrides))
    assert status == 200, answer
    assert isinstance(answer, dict)
    return dict(answer)


def rule(answer: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in answer["rules"] if r["rule"] == name]
    return dict(found)


def decisions_stored(settings: Settings) -> int:
    return sum(end_offsets(settings, DERIVED_DECISIONS).values())


def test_a_daily_loss_halts_the_account_and_a_resume_allows_again_and_it_all_replays(
    gated: Settings,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in gated.to_env().items():
        monkeypatch.setenv(name, value)
    wait_for(lambda: gate_loaded(gated), timeout=60, message="the gate did not read the log")
    first = decide(gated)
    assert first["decision"] == "allow" and first["quantity"] == 2
    assert [r["rule"] for r in first["rules"]] == [
        "daily_loss", "duplicate_signal", "min_reward_risk"]  # fmt: skip
    assert rule(first, "daily_loss") | {"reason": ""} == {
        "rule": "daily_loss", "kind": "daily_loss", "mode": "enforce", "verdict": "pass",
        "value": "0", "limit": "500", "reason": "", "halt": True,
    }  # fmt: skip
    assert rule(first, "min_reward_risk")["value"] == "3"
    assert first["sizing"] == {"method": "fixed", "arithmetic": "fixed: the strategy's 2"}
    assert first["rules_version"] == load_rules(gated.gate_rules).version  # type: ignore[arg-type]
    assert first["halted"] is None

    # a losing round trip of 30 points on one NQ contract: 600 plus 2 x 2.09 commission
    now = datetime.now(UTC)
    status, _ = post(gated, [
        execution("g-in", "buy", "21000", ts=(now - timedelta(seconds=60)).isoformat()),
        execution("g-out", "sell", "20970", ts=(now - timedelta(seconds=30)).isoformat()),
    ])  # fmt: skip
    assert status == 202

    def denied() -> dict[str, Any] | None:
        answer = decide(gated)
        return answer if answer["decision"] == "deny" else None

    breach = wait_for(denied, timeout=60, interval=0.5, message="the loss never reached the gate")
    assert rule(breach, "daily_loss") | {"reason": ""} == {
        "rule": "daily_loss", "kind": "daily_loss", "mode": "enforce", "verdict": "fail",
        "value": "604.18", "limit": "500", "reason": "", "halt": True,
    }  # fmt: skip
    assert "at or past the limit 500" in rule(breach, "daily_loss")["reason"]
    assert breach["quantity"] == 0 and breach["halted"]["started"] is True
    halt_id = breach["halted"]["halt_id"]

    status, halts = request(gated, "/v1/halts")
    assert status == 200
    (halt,) = halts["halts"]
    assert (halt["halt_id"], halt["account"], halt["rule"]) == (halt_id, "Sim101", "daily_loss")
    # another strategy of the account is halted too; another account is not
    other = decide(gated, strategy="Momentum")
    assert other["decision"] == "deny" and other["halted"] == {"halt_id": halt_id,
                                                                "started": False}  # fmt: skip
    assert decide(gated, account="Sim102")["decision"] == "allow"

    assert gate_main(["status"]) == 0
    assert halt_id in capsys.readouterr().out
    assert gate_main(["resume", "Sim101", "--reason", "reviewed the loss", "--by", "ops"]) == 0
    assert "resumed account=Sim101: 1 halt ended" in capsys.readouterr().out
    resumed = wait_for(
        lambda: (a := decide(gated))["decision"] == "allow" and a, timeout=30, interval=0.5,
        message="the resume never reached the gate",
    )  # fmt: skip
    assert rule(resumed, "daily_loss")["value"] == "0"  # counting from the resume
    assert gate_main(["resume", "Sim101"]) == 1  # nothing is halted any more

    # a retry of the same request gets the recorded answer; nothing new is stored
    stored = decisions_stored(gated)
    retry = proposal(signal_id="sig-retry")
    status, once = request(gated, "/v1/decisions", retry)
    status_again, twice = request(gated, "/v1/decisions", retry)
    assert (status, status_again) == (200, 200) and once == twice
    assert decisions_stored(gated) == stored + 1
    changed = decide(gated, signal_id="sig-retry", quantity=3)  # the same signal, asked anew
    assert rule(changed, "duplicate_signal")["verdict"] == "fail" and changed["decision"] == "deny"

    # bad input: 4xx naming the field, never 5xx, nothing stored
    stored = decisions_stored(gated)
    status, body = request(gated, "/v1/decisions", proposal(quantity=0, direction="up",
                                                            confidence=1.5, entry_price=-1,
                                                            extra=1))  # fmt: skip
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {
        "quantity", "direction", "confidence", "entry_price", "extra"}  # fmt: skip
    assert request(gated, "/v1/decisions", {"signal_id": "x"})[0] == 422
    assert request(gated, "/v1/decisions", b"{not json")[0] == 400
    assert request(gated, "/v1/decisions", [proposal()])[0] == 422
    assert request(gated, "/v1/decisions", proposal(), Authorization="Bearer wrong")[0] == 401
    assert request(gated, "/v1/decisions", proposal(), **{"Content-Type": "text/plain"})[0] == 415
    assert decisions_stored(gated) == stored

    # the bridge restarts: its state is read again from the log, and agrees
    pipeline.bridge.stop()
    pipeline.bridge.start()
    wait_for(lambda: gate_loaded(gated), timeout=60, message="the gate did not read the log")
    assert request(gated, "/v1/halts")[1] == {"halts": []}
    after = decide(gated)
    assert after["decision"] == "allow" and rule(after, "daily_loss")["value"] == "0"
    assert decide(gated, signal_id="sig-retry", quantity=3) == changed  # the recorded answer

    assert gate_main(["replay"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    total = decisions_stored(gated)
    assert f"{total} decisions replayed: {total} the same, 0 different, 0 skipped" in out
    assert Decimal(rule(breach, "daily_loss")["value"]) > Decimal(500)


def test_a_decision_stored_by_another_writer_reaches_the_state(
    gated: Settings, pipeline: Pipeline
) -> None:
    """``derived.decisions`` is read back in batches (``bridge.gate``), not skipped: a decision
    the bridge did not make (or one Kafka stored but reported as failed) still reaches its state:
    the halt it started is in force, and the same request gets that decision's answer."""
    wait_for(lambda: gate_loaded(gated), timeout=60, message="the gate did not read the log")
    asked = proposal(account="Sim202")
    now = datetime.now(UTC)
    made = domain_decide(
        parse_proposal(json.loads(json.dumps(asked), parse_float=Decimal)),
        rules=load_rules(gated.gate_rules),  # type: ignore[arg-type]
        state=GateState(),
        envelope=Envelope(
            event_id=EventId("ev-elsewhere"),
            ts_event=now,
            ts_ingested=now,
            source=Source.LIVE,
            producer="test",
        ),  # fmt: skip
        decision_id="dc-elsewhere",
        as_of={},
    )
    elsewhere = replace(made, halt_id="halt-elsewhere", halt_started=True)
    record = kafka_record(gated, default_codec(), elsewhere)
    producer = Producer(producer_config(gated))
    producer.produce(record.topic, key=record.key, value=record.value,
                     headers=list(record.headers))  # fmt: skip
    assert producer.flush(15) == 0

    def halted() -> bool:
        status, answer = request(gated, "/v1/halts")
        assert status == 200, answer
        return [h["halt_id"] for h in answer["halts"]] == ["halt-elsewhere"]

    wait_for(halted, timeout=15, message="the bridge did not read back the decision stored")
    again = decide(gated, **{k: v for k, v in asked.items() if k != "signal_id"},
                   signal_id=asked["signal_id"])  # fmt: skip
    assert again["decision_id"] == "dc-elsewhere"
    other = decide(gated, account="Sim202")
    assert other["decision"] == "deny" and other["halted"]["halt_id"] == "halt-elsewhere"
    assert decisions_stored(gated) == 2  # the stored one and the denial; the retry stored nothing
