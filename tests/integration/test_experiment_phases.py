"""Experiments that go with a phase, on a real broker and PostgreSQL: creating one needs the phase
active; rolling the phase back rolls its experiments back first (who and why recorded); the
guard rolling such an experiment back rolls its phase back, once, also after a restart, and
never a later phase of the same name nor after a person's rollback; one guard acts at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bridge.experiments import change, read_experiments
from control.guard import GuardLock
from control.guard_phases import PhaseFollowUp
from control.phases import plan_rollback, rollback, start
from core.control_log import read_log
from core.errors import ConfigError
from core.settings import Settings
from domain.experiments.model import Status
from fillstream.commands.experiments import main as experiments_main
from projections.migrate import migrate
from schemas.events import ExperimentAction

pytestmark = pytest.mark.integration


def create(tmp_path: Path, name: str, strategy: str, phase: str) -> int:
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'id = "{name}"\nstrategy = "{strategy}"\ncontrol = "v1"\ntreatment = "v2"\n'
        f'phase = "{phase}"\n'
    )
    return experiments_main(["create", "--config", str(config), "--by", "alice"])


def active(settings: Settings) -> set[str]:
    return {p.name for p in read_log(settings).active()}


def rollbacks_done(phase: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "fillstream_experiment_phase_rollbacks_total", {"phase": phase, "outcome": "done"}
        )
        or 0.0
    )


@pytest.fixture
def environ(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    migrate(settings)
    return settings


def quiet(_: str) -> None:
    pass


def test_rolling_a_phase_back_rolls_its_experiments_back_first(
    environ: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = environ
    with pytest.raises(ConfigError, match="'p1' is not an active phase"):
        create(tmp_path, "x", "Breakout", "p1")
    start(settings, "p1", {"FILLSTREAM_GRACE_MS": "50"}, say=quiet)
    assert create(tmp_path, "x", "Breakout", "p1") == 0
    capsys.readouterr()
    assert experiments_main(["list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["experiments"]
    assert (listed["id"], listed["phase"]) == ("x", "p1")
    assert experiments_main(["show", "x"]) == 0
    assert "experiment x: Breakout, running, step 1/4, treatment 10 %, with phase p1" in (
        capsys.readouterr().out
    )
    plan = plan_rollback(settings, "p1")
    assert plan.experiments == ("x",)
    assert "experiment x: rolled back (its signals run control)" in plan.render()

    said: list[str] = []
    rollback(settings, "p1", say=said.append, actor="bob")
    experiments, events = read_experiments(settings)
    x = experiments.get("x")
    assert (x.status, x.changed_by, x.reason) == (
        Status.ROLLED_BACK, "bob", "phase p1 rolled back"
    )  # fmt: skip
    assert "p1" not in active(settings)
    assert any("experiment x rolled back" in line for line in said)
    assert [e.action for e in events if e.experiment_id == "x"] == [
        ExperimentAction.CONFIGURED, ExperimentAction.ROLLED_BACK
    ]  # fmt: skip


def test_the_guard_rolls_back_the_phase_of_an_experiment_it_rolled_back(
    environ: Settings, tmp_path: Path
) -> None:
    settings = environ
    start(settings, "p2", {"FILLSTREAM_GRACE_MS": "60"}, say=quiet)
    assert create(tmp_path, "y", "Breakout", "p2") == 0
    assert create(tmp_path, "z", "Scalper", "p2") == 0
    before = rollbacks_done("p2")

    # a person's rollback of an experiment leaves its phase alone
    change(settings, "z", ExperimentAction.ROLLED_BACK, actor="carol", reason="by hand")
    follow_up = PhaseFollowUp(settings)
    assert follow_up.check(read_experiments(settings)[0]) == []
    assert "p2" in active(settings)

    # the guard's rolls the phase back, once
    change(settings, "y", ExperimentAction.ROLLED_BACK, actor="guardrail", reason="A: too deep")
    assert follow_up.check(read_experiments(settings)[0]) == ["p2"]
    follow_up.join(timeout=120)
    assert "p2" not in active(settings)
    assert rollbacks_done("p2") == before + 1
    assert follow_up.check(read_experiments(settings)[0]) == []
    assert PhaseFollowUp(settings).check(read_experiments(settings)[0]) == []  # a restart

    # a later phase of the same name is not the experiment's
    start(settings, "p2", {"FILLSTREAM_GRACE_MS": "70"}, say=quiet)
    assert PhaseFollowUp(settings).check(read_experiments(settings)[0]) == []
    assert "p2" in active(settings)


def test_after_a_restart_the_guard_still_rolls_the_phase_back(
    environ: Settings, tmp_path: Path
) -> None:
    settings = environ
    start(settings, "p3", {"FILLSTREAM_GRACE_MS": "40"}, say=quiet)
    assert create(tmp_path, "w", "Breakout", "p3") == 0
    # rolled back by the guard's decision, and the process stopped before the phase followed
    change(settings, "w", ExperimentAction.ROLLED_BACK, actor="decision", reason="worse")
    restarted = PhaseFollowUp(settings)
    assert restarted.check(read_experiments(settings)[0]) == ["p3"]
    restarted.join(timeout=120)
    assert "p3" not in active(settings)


def test_one_guard_acts_at_a_time(environ: Settings) -> None:
    first, second = GuardLock(environ), GuardLock(environ)
    try:
        assert first.hold() and first.hold()
        assert not second.hold()
        first.release()
        assert second.hold()
        assert not first.hold()
    finally:
        first.release()
        second.release()
