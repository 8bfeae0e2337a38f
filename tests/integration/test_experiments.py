"""Experiments end to end, on a real broker, bridge, worker, projector and PostgreSQL: an
experiment created with the CLI splits signals at the bridge as the pure assignment does, each
assignment is logged and projected, manual changes and the kill switch take effect at once, and
`fillstream experiments show` compares the arms' trades."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.experiments import ExperimentFollower, read_experiments
from control.guard import check_once
from core.database import connect
from core.settings import Settings
from domain.experiments.guardrails import STEP_TRADES_SQL, step_counts, step_parameters
from domain.experiments.model import assign
from fillstream.commands.experiments import main as experiments_main
from schemas.codec import default_codec
from schemas.events import ExperimentArm
from tests.fixtures.pipeline import ServiceProcess, answered, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

CONFIG = """
id = "breakout-v2"
strategy = "Breakout"
control = "v1"
treatment = "v2"
ramp = [10, 50, 100]
min_trades_per_step = 5
min_days_per_step = 0
[guardrails]
max_drawdown = 2000
"""


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def ask(settings: Settings, signal_id: str, strategy: str = "Breakout") -> dict[str, Any]:
    request = urllib.request.Request(
        f"{settings.bridge_url}/v1/assignments",
        data=json.dumps({"signal_id": signal_id, "strategy": strategy}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def treatment_percent_seen(settings: Settings, percent: int) -> bool:
    """Whether the bridge has read the change that puts the treatment at ``percent``."""
    seen: int = ask(settings, "probe", "Breakout")["treatment_percent"]
    return seen == percent


def test_an_experiment_splits_signals_at_the_bridge_and_compares_its_arms(
    settings: Settings,
    pipeline: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert ask(settings, "before")["arm"] == "control"  # no experiment yet
    config = tmp_path / "breakout-v2.toml"
    config.write_text(CONFIG)
    assert experiments_main(["create", "--config", str(config), "--by", "alice"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 10), timeout=30,
             message="the bridge did not read the experiment")  # fmt: skip

    # step 1, 10 %: the bridge answers as the pure assignment does
    experiments, _ = read_experiments(settings)
    answers = {f"sig-{i}": ask(settings, f"sig-{i}") for i in range(300)}
    for signal_id, answer in answers.items():
        expected = assign(experiments, "Breakout", signal_id)
        assert (answer["arm"], answer["variant"], answer["experiment"]) == (
            expected.arm.value, expected.variant, "breakout-v2"
        )  # fmt: skip
    treated = [s for s, a in answers.items() if a["arm"] == "treatment"]
    assert 10 <= len(treated) <= 55  # 30 expected
    assert ask(settings, "other", "Mean reversion")["experiment"] is None

    # promoted to 50 %: the treated stay treated, more join
    assert experiments_main(["promote", "breakout-v2", "--reason", "enough trades"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 50), timeout=30, message="not promoted")
    at_50 = {f"sig-{i}": ask(settings, f"sig-{i}") for i in range(300)}
    assert set(treated) < {s for s, a in at_50.items() if a["arm"] == "treatment"}

    # paused, killed: control at once; resumed and revived: split again
    assert experiments_main(["pause", "breakout-v2", "--reason", "news"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 0), timeout=30, message="not paused")
    assert {ask(settings, s)["arm"] for s in treated} == {"control"}
    assert experiments_main(["resume", "breakout-v2"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 50), timeout=30, message="not resumed")
    assert experiments_main(["kill", "--reason", "outage"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 0), timeout=30, message="not killed")
    assert "kill switch" in ask(settings, treated[0])["reason"]
    assert experiments_main(["revive"]) == 0
    wait_for(lambda: treatment_percent_seen(settings, 50), timeout=30, message="not revived")
    capsys.readouterr()

    # every answer to an experiment is logged and projected once per signal (the first counts)
    count = "SELECT count(*) FROM assignments WHERE experiment_id = 'breakout-v2'"
    wait_for(lambda: query(settings, count) == [(301,)], timeout=60,
             message=f"assignments projected: {query(settings, count)}")  # fmt: skip
    rows = query(settings, "SELECT signal_id, arm, treatment_percent FROM assignments"
                           " WHERE left(signal_id, 4) = 'sig-'")  # fmt: skip
    assert {s: (arm, pct) for s, arm, pct in rows} == {
        s: (a["arm"], 10) for s, a in answers.items()
    }

    # the arms' trades: a long round trip for 40 signals, the treated ones better
    signals = [f"sig-{i}" for i in range(300)]
    chosen = [s for s in signals if answers[s]["arm"] == "treatment"][:12]
    chosen += [s for s in signals if answers[s]["arm"] == "control"][:28]
    executions, expected_net = [], {}
    for n, signal_id in enumerate(chosen):
        lift = Decimal("2.5") if answers[signal_id]["arm"] == "treatment" else Decimal(0)
        exit_price = Decimal(21000) + Decimal(n % 7 - 3) + lift
        minute = f"2026-09-22T14:{n:02d}"
        executions += [
            execution(f"{signal_id}-in", "buy", "21000", ts=f"{minute}:00Z",
                      signal_id=signal_id, strategy="Breakout"),
            execution(f"{signal_id}-out", "sell", str(exit_price), ts=f"{minute}:30Z",
                      signal_id=signal_id, strategy="Breakout"),
        ]  # fmt: skip
        expected_net[signal_id] = (exit_price - 21000) * 20 - Decimal("4.18")
    confidence = {s: round(0.3 + 0.4 * (n % 5) / 4, 2) for n, s in enumerate(chosen)}
    signal_events = [
        {"type": "signal", "ts_event": "2026-09-22T13:59:00Z", "source": "live",
         "producer": "tests", "signal_id": s, "account": "Sim101", "instrument": "NQ 12-26",
         "strategy": "Breakout", "direction": "long", "confidence": confidence[s]}
        for s in chosen
    ]  # fmt: skip
    assert post(settings, signal_events)[0] == 202
    assert post(settings, executions)[0] == 202
    trades = "SELECT count(*) FROM experiment_trades WHERE experiment_id = 'breakout-v2'"
    wait_for(lambda: query(settings, trades) == [(40,)], timeout=90,
             message=f"experiment trades: {query(settings, trades)}")  # fmt: skip
    scored = "SELECT count(confidence) FROM experiment_trades"
    wait_for(lambda: query(settings, scored) == [(40,)], timeout=60,
             message=f"signals' confidence: {query(settings, scored)}")  # fmt: skip

    assert experiments_main(["show", "breakout-v2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    for arm in (ExperimentArm.CONTROL, ExperimentArm.TREATMENT):
        mine = [expected_net[s] for s in chosen if answers[s]["arm"] == arm.value]
        figures = shown[arm.value]
        assert figures["trades"] == len(mine)
        assert Decimal(figures["net_profit"]) == sum(mine)
        assert figures["wins"] == sum(1 for n in mine if n > 0)
    assert shown["experiment"]["status"] == "running"
    # the trades closed before the step began (their event times are September's): continue
    assert shown["next_step"]["decision"] == "continue"
    assert shown["experiment"]["treatment_percent"] == 50
    assert shown["welch"]["difference"] == pytest.approx(
        float(sum((expected_net[s] for s in chosen[:12]), Decimal(0)) / 12
              - sum((expected_net[s] for s in chosen[12:]), Decimal(0)) / 28)
    )  # fmt: skip
    assert shown["sample_ratio"]["df"] == 1  # the assignments at 10 % (those at 50 % repeat them)
    # the rollout report: each arm's Brier score from its signals' confidence
    metrics = {m["name"]: m for m in shown["rollout"]["metrics"]}
    for side in ("control", "treatment"):
        signals_of_side = [s for s in chosen if answers[s]["arm"] == side]
        brier = sum((confidence[s] - (expected_net[s] > 0)) ** 2 for s in signals_of_side) / len(
            signals_of_side
        )
        assert metrics["Brier score"][side] == pytest.approx(brier)
    assert metrics["win rate"]["difference"] is not None
    assert sum(b["trades"] for b in shown["rollout"]["calibration"]) == 40

    # no bars were labelled: the regime comparison says why it is left out
    assert shown["by_regime"] == [] and shown["stratified"] is None
    assert "at least 2 trades per arm" in shown["missing"]["by regime"]

    assert experiments_main(["show", "breakout-v2"]) == 0
    text = capsys.readouterr().out
    assert "mean net/trade (Welch)" in text and "always-valid (mSPRT)" in text
    assert "rollout report" in text and "Brier score" in text and "calibration" in text
    assert "promoted (step 2) by" in text and "paused by" in text and ": news" in text

    assert experiments_main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "breakout-v2" in listed and "running" in listed and "2/3" in listed and "50 %" in listed


GUARDED = """
id = "guarded"
strategy = "Scalper"
control = "v1"
treatment = "v2"
[guardrails]
max_drawdown = 100
"""


def test_a_guardrail_breach_rolls_the_experiment_back_once(
    settings: Settings, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "guarded.toml"
    config.write_text(GUARDED)
    assert experiments_main(["create", "--config", str(config)]) == 0

    def round_trip(n: int, variant: str, exit_price: str) -> list[dict[str, Any]]:
        minute = f"2026-09-22T15:{n:02d}"
        return [
            execution(f"g{n}-in", "buy", "21000", ts=f"{minute}:00Z", strategy="Scalper",
                      variant=variant),
            execution(f"g{n}-out", "sell", exit_price, ts=f"{minute}:30Z", strategy="Scalper",
                      variant=variant),
        ]  # fmt: skip

    def variant_rows(variant: str) -> list[tuple[Any, ...]]:
        return query(settings, "SELECT max_drawdown FROM performance WHERE scope = 'variant'"
                     " AND variant = %s AND time_window = 'all_time'", (variant,))  # fmt: skip

    # the control variant losing deeply is no breach of the treatment's guardrail
    assert post(settings, round_trip(1, "v1", "20970"))[0] == 202  # -600 - 4.18
    wait_for(lambda: variant_rows("v1") != [], timeout=60, message="v1 figures not projected")
    follower = ExperimentFollower(settings, default_codec(), "tests-guard").start()
    try:
        wait_for(follower.loaded.is_set, timeout=30, message="experiments not read")
        assert check_once(settings, follower) == []
    finally:
        follower.close()

    # the treatment drawing down 40.18 holds; past 100, the projector's guard rolls it back
    assert post(settings, round_trip(2, "v2", "20998"))[0] == 202
    wait_for(lambda: variant_rows("v2") == [(Decimal("44.18"),)], timeout=60,
             message=f"v2 figures: {variant_rows('v2')}")  # fmt: skip
    assert post(settings, round_trip(3, "v2", "20997"))[0] == 202

    def rolled_back() -> bool:
        return read_experiments(settings)[0].get("guarded").ended

    wait_for(rolled_back, timeout=60, message="the guard did not roll the experiment back")
    experiments, events = read_experiments(settings)
    guarded = experiments.get("guarded")
    assert (guarded.status, guarded.changed_by) == ("rolled_back", "guardrail")
    assert guarded.reason == "Sim101: v2 drew down 108.36, beyond the guardrail of 100"
    # the reports count each arm's trades at the step (exits in [step start, until))
    day = datetime(2026, 9, 22, tzinfo=UTC)

    def at_step(since: datetime) -> dict[str, int]:
        early = replace(guarded, step_started_at=since)
        with connect(settings) as conn:
            rows = conn.execute(STEP_TRADES_SQL, step_parameters(early, day + timedelta(days=1)))
            return step_counts(rows)

    assert at_step(day) == {"control": 1, "treatment": 2}
    assert at_step(day + timedelta(hours=15, minutes=2, seconds=31)) == {"treatment": 1}
    assert [e.action for e in events if e.experiment_id == "guarded"] == [
        "configured", "rolled_back"
    ]  # fmt: skip
    assert ask(settings, "after", "Scalper")["experiment"] is None  # every signal: control

    capsys.readouterr()
    assert experiments_main(["show", "guarded", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["next_step"]["decision"] == "none"
    assert shown["experiment"]["status"] == "rolled_back"


AUTO = """
id = "auto"
strategy = "Auto"
control = "v1"
treatment = "v2"
ramp = [10, 50, 100]
min_trades_per_step = 2
min_days_per_step = 0
auto_promote = true
"""


def test_an_auto_promoted_experiment_climbs_once_its_step_is_done(
    settings: Settings, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "auto.toml"
    config.write_text(AUTO)
    assert experiments_main(["create", "--config", str(config)]) == 0
    wait_for(lambda: ask(settings, "probe", "Auto")["treatment_percent"] == 10, timeout=30,
             message="the bridge did not read the experiment")  # fmt: skip
    answers = {f"a{i}": ask(settings, f"a{i}", "Auto")["arm"] for i in range(120)}
    chosen = [s for s in answers if answers[s] == "treatment"][:2]
    chosen += [s for s in answers if answers[s] == "control"][:2]
    now = datetime.now(UTC).replace(microsecond=0)
    executions = []
    for n, signal_id in enumerate(chosen):  # closed after the step began: they count
        entry, exit_ = now + timedelta(seconds=2 * n + 1), now + timedelta(seconds=2 * n + 2)
        executions += [
            execution(f"{signal_id}-in", "buy", "21000", ts=_iso(entry), signal_id=signal_id,
                      strategy="Auto"),
            execution(f"{signal_id}-out", "sell", "21001", ts=_iso(exit_), signal_id=signal_id,
                      strategy="Auto"),
        ]  # fmt: skip
    assert post(settings, executions)[0] == 202

    def step() -> int:
        return read_experiments(settings)[0].get("auto").step

    wait_for(lambda: step() == 1, timeout=60, message="the experiment was not promoted")
    experiments, events = read_experiments(settings)
    promoted = [e for e in events if e.experiment_id == "auto"][-1]
    assert (promoted.action, promoted.actor, promoted.step) == ("promoted", "decision", 1)
    assert promoted.reason.startswith("2 trades per arm and")
    wait_for(lambda: ask(settings, "probe", "Auto")["treatment_percent"] == 50, timeout=30,
             message="the bridge did not follow the promotion")  # fmt: skip
    # the new step has no trades yet: nothing more to do
    follower = ExperimentFollower(settings, default_codec(), "tests-auto").start()
    try:
        wait_for(lambda: follower.loaded.is_set() and follower.experiments.by_id["auto"].step == 1,
                 timeout=30, message="experiments not read")  # fmt: skip
        assert check_once(settings, follower) == []
    finally:
        follower.close()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_the_dashboard_pauses_resumes_and_kills_as_the_cli_does(
    settings: Settings, pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "breakout-v2.toml"
    config.write_text(CONFIG)
    assert experiments_main(["create", "--config", str(config), "--by", "alice"]) == 0
    api = ServiceProcess(settings, "api", settings.api_port).start()
    try:
        shown = dashboard(settings, "GET", "/api/experiments")[1]["items"]
        assert [(e["id"], e["status"], e["kill_switch"]) for e in shown] == [
            ("breakout-v2", "running", False)
        ]
        status, body = dashboard(settings, "POST", "/api/experiments/breakout-v2/pause",
                                 {"reason": "news"}, origin="http://127.0.0.1:1")  # fmt: skip
        assert status == 403 and "Origin" in body["error"]
        status, body = dashboard(settings, "POST", "/api/experiments/breakout-v2/pause",
                                 {"reason": "news"})  # fmt: skip
        assert status == 200 and body["by"] == "dashboard"
        wait_for(lambda: treatment_percent_seen(settings, 0), timeout=30, message="not paused")
        status, body = dashboard(settings, "POST", "/api/experiments/breakout-v2/pause", {})
        assert status == 409  # already paused: refused with the reason
        assert dashboard(settings, "POST", "/api/experiments/nope/resume", {})[0] == 409
        assert dashboard(settings, "POST", "/api/experiments/breakout-v2/explode", {})[0] == 400
        assert dashboard(settings, "POST", "/api/experiments/breakout-v2/resume", {})[0] == 200
        wait_for(lambda: treatment_percent_seen(settings, 10), timeout=30, message="not resumed")
        status, body = dashboard(settings, "POST", "/api/kill-switch/kill", {"reason": "outage"})
        assert status == 200 and body["kill_switch"] is True
        wait_for(lambda: treatment_percent_seen(settings, 0), timeout=30, message="not killed")

        # the same events the CLI records, by the dashboard
        _, events = read_experiments(settings)
        assert [(e.action.value, e.actor, e.reason) for e in events] == [
            ("configured", "alice", ""),
            ("paused", "dashboard", "news"),
            ("resumed", "dashboard", ""),
            ("killed", "dashboard", "outage"),
        ]
        report = dashboard(settings, "GET", "/api/experiments/breakout-v2")[1]
        assert report["experiment"]["id"] == "breakout-v2" and report["kill_switch"] is True
        assert [h["by"] for h in report["history"]] == ["alice", "dashboard", "dashboard",
                                                        "dashboard"]  # fmt: skip
        assert {"decision", "reason"} <= set(report["next_step"])
        assert dashboard(settings, "GET", "/api/experiments/nope")[0] == 404
    finally:
        api.stop()


def dashboard(
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    origin: str | None = None,
) -> tuple[int, Any]:
    """A request as the dashboard's page makes it: the token, and for a change its origin."""
    headers = {"Authorization": f"Bearer {settings.token}"}
    data = None
    if body is not None:
        headers |= {"Content-Type": "application/json", "Origin": origin or settings.api_url}
        data = json.dumps(body).encode()
    request = urllib.request.Request(f"{settings.api_url}{path}", data, headers, method=method)
    return answered(request, timeout=60)
