"""Does the gate improve trade quality, end to end: signals decided at the bridge, the allowed
ones traded live, every one paper-traded by the shadow stages; `fillstream gate report` sets what
each rule's failed signals made (paper, when denied) beside what its passed ones made, with the
figures of the trades view."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest

from core.settings import Settings
from fillstream.commands.gate import main as gate_main
from tests.fixtures.pipeline import (
    ServiceProcess,
    execution,
    gate_loaded,
    post,
    query,
    with_gate_rules,
)
from tests.fixtures.services import wait_for
from tests.integration.test_api import authorized, get
from tests.integration.test_gate import decide
from tests.integration.test_paper import iso
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

RULES = """
[[rule]]
name = "confidence"
kind = "min_confidence"
limit = 0.55

[[rule]]
name = "one-a-day"
kind = "max_trades"
limit = 1
mode = "observe"
"""

START = datetime(2026, 9, 22, 14, tzinfo=UTC)
CLOSES = ["21000", "21002", "21004", "21006", "21004", "21002", "21000", "20998", "20996",
          "20994", "20992", "20990", "20988", "20986", "20984"]  # fmt: skip
# signal id: (minute and second of the signal, direction, stop, target, confidence)
SIGNALS = {
    "gr-1": ((0, 30), "long", "20995", "21005", 0.70),
    "gr-2": ((0, 40), "long", "20990", "21010", 0.40),
    "gr-3": ((4, 30), "short", "21010", "20990", 0.80),
    "gr-4": ((4, 40), "short", "21008", "20985", 0.30),
}


@pytest.fixture
def gated(settings: Settings, tmp_path: Path) -> Settings:
    return with_gate_rules(settings, tmp_path, RULES)


@pytest.fixture
def pipeline(gated: Settings) -> Iterator[Pipeline]:
    yield from running(gated)


def bar(minute: int, open_: str, close: str) -> dict[str, Any]:
    high = str(max(Decimal(open_), Decimal(close)) + Decimal("0.5"))
    low = str(min(Decimal(open_), Decimal(close)) - Decimal("0.5"))
    return {
        "type": "bar", "ts_event": iso(START + timedelta(minutes=minute)), "source": "live",
        "producer": "tests", "instrument": "NQ 12-26", "period": "1 Minute",
        "open": open_, "high": high, "low": low, "close": close, "volume": 100,
    }  # fmt: skip


def signal(signal_id: str) -> dict[str, Any]:
    (minute, second), direction, stop, target, confidence = SIGNALS[signal_id]
    return {
        "type": "signal", "ts_event": iso(START + timedelta(minutes=minute, seconds=second)),
        "source": "live", "producer": "tests", "signal_id": signal_id, "account": "Sim101",
        "instrument": "NQ 12-26", "strategy": strategy(signal_id), "direction": direction,
        "confidence": confidence, "intended_stop": stop, "intended_target": target,
    }  # fmt: skip


def strategy(signal_id: str) -> str:
    """One strategy per signal, so no two paper trades share a position."""
    return f"Swing-{signal_id[-1]}"


def test_the_report_sets_what_failed_signals_made_beside_what_passed_ones_made(
    gated: Settings,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in gated.to_env().items():
        monkeypatch.setenv(name, value)
    wait_for(lambda: gate_loaded(gated), timeout=60, message="the gate did not read the log")
    answers = {}
    for signal_id, (_, direction, stop, target, confidence) in SIGNALS.items():
        answers[signal_id] = decide(
            gated, signal_id=signal_id, strategy=strategy(signal_id), variant=None,
            direction=direction,
            entry_price="21000", intended_stop=stop, intended_target=target,
            confidence=confidence, quantity=1,
        )  # fmt: skip
    assert {s: a["decision"] for s, a in answers.items()} == {
        "gr-1": "allow", "gr-2": "deny", "gr-3": "allow", "gr-4": "deny"}  # fmt: skip

    bars = [bar(i + 1, CLOSES[i - 1] if i else "21000", c) for i, c in enumerate(CLOSES)]
    live = [  # the allowed signals traded live, one after the other
        execution("gr-1-in", "buy", "21000.5", ts="2026-09-22T14:00:35Z", signal_id="gr-1",
                  strategy=strategy("gr-1")),
        execution("gr-1-out", "sell", "21004.5", ts="2026-09-22T14:02:10Z", signal_id="gr-1",
                  strategy=strategy("gr-1")),
        execution("gr-3-in", "sell", "21005", ts="2026-09-22T14:04:35Z", signal_id="gr-3",
                  strategy=strategy("gr-3")),
        execution("gr-3-out", "buy", "20991", ts="2026-09-22T14:12:10Z", signal_id="gr-3",
                  strategy=strategy("gr-3")),
    ]  # fmt: skip
    assert post(gated, [*(signal(s) for s in SIGNALS), *bars, *live])[0] == 202

    outcomes = ("SELECT signal_id, account, sum(net_pnl) FROM trades"
                " GROUP BY signal_id, account ORDER BY 1, 2")  # fmt: skip
    wanted = {("gr-1", "Sim101"), ("gr-3", "Sim101"), ("gr-2", "PAPER:Sim101"),
              ("gr-4", "PAPER:Sim101")}  # fmt: skip

    def traded() -> bool:
        return wanted <= {(s, a) for s, a, _ in query(gated, outcomes)}

    try:
        wait_for(traded, timeout=120)
    except AssertionError:
        raise AssertionError(f"the live and paper trades: {query(gated, outcomes)}") from None
    wait_for(lambda: query(gated, "SELECT count(*) FROM gate_outcomes WHERE net_pnl IS NOT NULL")
             == [(4,)], timeout=60, message="the decisions projected")  # fmt: skip
    nets = {(s, a): n for s, a, n in query(gated, outcomes)}
    made = {  # what each signal made: live when allowed, paper when denied
        "gr-1": nets[("gr-1", "Sim101")], "gr-3": nets[("gr-3", "Sim101")],
        "gr-2": nets[("gr-2", "PAPER:Sim101")], "gr-4": nets[("gr-4", "PAPER:Sim101")],
    }  # fmt: skip

    assert gate_main(["report", "--json", "--account", "Sim101"]) == 0
    printed = json.loads(capsys.readouterr().out)
    report = {r["rule"]: r for r in printed}
    assert set(report) == {"(the gate)", "confidence", "one-a-day"}

    def mean(*signals: str) -> float:
        return fmean(float(made[s]) for s in signals)

    confidence = report["confidence"]
    assert (confidence["failed"]["signals"], confidence["passed"]["signals"]) == (2, 2)
    assert confidence["failed"]["mean"] == pytest.approx(mean("gr-2", "gr-4"))
    assert confidence["passed"]["mean"] == pytest.approx(mean("gr-1", "gr-3"))
    assert Decimal(confidence["failed"]["total"]) == made["gr-2"] + made["gr-4"]
    assert confidence["difference"]["mean"] == pytest.approx(
        mean("gr-2", "gr-4") - mean("gr-1", "gr-3"))  # fmt: skip
    low, high = confidence["failed"]["ci_low"], confidence["failed"]["ci_high"]
    worst, best = sorted(float(made[s]) for s in ("gr-2", "gr-4"))
    assert worst - 1e-9 <= low <= high <= best + 1e-9
    assert report["(the gate)"]["failed"] == confidence["failed"]
    # observed, max_trades failed every signal after the first allowed one: their outcomes are
    # live when the other rule allowed them (gr-3), paper when it denied them (gr-2, gr-4)
    observed = report["one-a-day"]
    assert observed["mode"] == "observe"
    assert observed["failed"]["mean"] == pytest.approx(mean("gr-2", "gr-3", "gr-4"))
    assert observed["passed"]["mean"] == pytest.approx(mean("gr-1"))
    assert observed["passed"]["ci_low"] is None and observed["difference"] is None

    assert gate_main(["report"]) == 0
    table = capsys.readouterr().out
    assert "confidence" in table and "one-a-day" in table and "failed − passed" in table

    # the dashboard's read API gives the same report, and the decisions with their verdicts
    api = ServiceProcess(gated, "api", gated.api_port).start()
    try:
        assert authorized(gated, "/api/gate-report?account=Sim101") == {"items": printed}
        decisions = authorized(gated, "/api/decisions?strategy=Swing-2")["items"]
        ((denied,),) = [decisions]
        assert (denied["signal_id"], denied["decision"], denied["quantity"]) == ("gr-2", "deny", 0)
        assert [r["verdict"] for r in denied["rules"]] == ["fail", "fail"]
        status, body = get(gated, "/api/gate-report?from=yesterday",
                           {"Authorization": f"Bearer {gated.token}"})  # fmt: skip
        assert status == 400 and body["parameter"] == "from"
    finally:
        api.stop()
