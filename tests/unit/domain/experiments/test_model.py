"""A/B experiments, pure: the fold of their control events, the refusals, the configuration file,
and the assignment of signals (deterministic, uniform, monotone along the ramp, independent
between experiments, control while paused, rolled back or killed)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bridge.experiments import change_event
from core.errors import ConfigError
from domain.errors import ExperimentError
from domain.experiments.model import (
    KILL_SWITCH,
    Experiments,
    ExperimentSpec,
    Status,
    apply,
    assign,
    bucket,
    check,
    fold,
    spec_from_config,
)
from schemas.codec import default_codec
from schemas.events import ExperimentAction, ExperimentArm, ExperimentChanged

T0 = datetime(2026, 9, 22, 14, tzinfo=UTC)
SPEC = ExperimentSpec(
    experiment_id="breakout-v2", strategy="Breakout", control_variant="v1", treatment_variant="v2"
)


def event(
    action: ExperimentAction, experiment_id: str = "breakout-v2", minutes: int = 0, **kw: Any
) -> ExperimentChanged:
    return change_event(
        experiment_id, action, actor="tests", at=T0 + timedelta(minutes=minutes), **kw
    )


def configured(spec: ExperimentSpec = SPEC) -> Experiments:
    return fold([event(ExperimentAction.CONFIGURED, spec.experiment_id, spec=spec)])


def share(experiments: Experiments, n: int = 20_000, strategy: str = "Breakout") -> float:
    arms = [assign(experiments, strategy, f"sig-{i}").arm for i in range(n)]
    return arms.count(ExperimentArm.TREATMENT) / n


# -- the fold ------------------------------------------------------------------------------------


def test_an_experiment_climbs_its_ramp_and_completes() -> None:
    experiments = configured()
    got = experiments.get("breakout-v2")
    assert (got.status, got.step, got.treatment_percent) == (Status.RUNNING, 0, 10)
    for minutes, percent in ((60, 25), (120, 50), (180, 100)):
        experiments = apply(experiments, event(ExperimentAction.PROMOTED, minutes=minutes))
        got = experiments.get("breakout-v2")
        assert (got.status, got.treatment_percent) == (Status.RUNNING, percent)
        assert got.step_started_at == T0 + timedelta(minutes=minutes)
    experiments = apply(experiments, event(ExperimentAction.PROMOTED, minutes=240))
    got = experiments.get("breakout-v2")
    assert (got.status, got.treatment_percent, got.ended) == (Status.COMPLETED, 100, True)
    assert experiments.running_for("Breakout") is None


def test_pause_resume_and_rollback() -> None:
    experiments = apply(configured(), event(ExperimentAction.PAUSED, reason="FOMC"))
    paused = experiments.get("breakout-v2")
    assert (paused.status, paused.treatment_percent, paused.reason) == (Status.PAUSED, 0, "FOMC")
    assert share(experiments, 2000) == 0
    experiments = apply(experiments, event(ExperimentAction.RESUMED))
    assert experiments.get("breakout-v2").treatment_percent == 10
    experiments = apply(experiments, event(ExperimentAction.ROLLED_BACK))
    rolled = experiments.get("breakout-v2")
    assert (rolled.status, rolled.treatment_percent) == (Status.ROLLED_BACK, 0)
    # ended: the strategy is free for the next experiment, and this one takes no changes
    assert assign(experiments, "Breakout", "s").experiment_id is None
    with pytest.raises(ExperimentError, match="has ended"):
        check(experiments, event(ExperimentAction.RESUMED))


@pytest.mark.parametrize(
    ("history", "change", "message"),
    [
        ([], event(ExperimentAction.PAUSED), "no experiment 'breakout-v2'"),
        ([ExperimentAction.PAUSED], event(ExperimentAction.PAUSED), "already paused"),
        ([], event(ExperimentAction.RESUMED), "is not paused"),
        ([ExperimentAction.PAUSED], event(ExperimentAction.PROMOTED), "resume it first"),
        ([], event(ExperimentAction.KILLED), "kill switch"),
        ([], event(ExperimentAction.CONFIGURED, spec=SPEC), "exists already"),
        (
            [],
            event(ExperimentAction.CONFIGURED, "other", spec=replace(SPEC, experiment_id="other")),
            "'breakout-v2' already splits 'Breakout'",
        ),
        ([], event(ExperimentAction.PAUSED, KILL_SWITCH), "only killed or revived"),
        ([], event(ExperimentAction.REVIVED, KILL_SWITCH), "kill switch is not on"),
    ],
)
def test_a_change_that_cannot_be_made_is_refused_and_ignored_by_the_fold(
    history: list[ExperimentAction], change: ExperimentChanged, message: str
) -> None:
    experiments = configured() if "no experiment" not in message else Experiments()
    for action in history:
        experiments = apply(experiments, event(action))
    with pytest.raises(ExperimentError, match=message):
        check(experiments, change)
    assert apply(experiments, change) == experiments


def test_the_kill_switch_sends_every_signal_to_control_until_revived() -> None:
    experiments = apply(configured(), event(ExperimentAction.KILLED, KILL_SWITCH, reason="outage"))
    assert experiments.killed and experiments.killed_by == "tests: outage"
    killed = assign(experiments, "Breakout", "sig-1")
    assert (killed.arm, killed.treatment_percent) == (ExperimentArm.CONTROL, 0)
    assert "kill switch" in killed.reason
    assert share(experiments, 2000) == 0
    with pytest.raises(ExperimentError, match="already on"):
        check(experiments, event(ExperimentAction.KILLED, KILL_SWITCH))
    experiments = apply(experiments, event(ExperimentAction.REVIVED, KILL_SWITCH))
    assert not experiments.killed
    assert 0.08 < share(experiments, 5000) < 0.12


def test_events_through_the_codec_fold_alike() -> None:
    codec = default_codec()
    guarded = replace(SPEC, max_drawdown=Decimal("2000"), ramp=(5, 50, 100), phase="breakout-p")
    events = [
        event(ExperimentAction.CONFIGURED, spec=guarded),
        event(ExperimentAction.PROMOTED, minutes=5),
        event(ExperimentAction.PAUSED, minutes=6, reason="news"),
    ]
    decoded = [codec.decode(codec.encode(e)) for e in events]
    assert fold(decoded) == fold(events)  # type: ignore[arg-type]
    got = fold(decoded).get("breakout-v2")  # type: ignore[arg-type]
    assert got.spec == guarded and got.step == 1 and got.status is Status.PAUSED


# -- assignment ----------------------------------------------------------------------------------


def test_the_bucket_is_sha256_of_experiment_and_signal_scaled_to_10000() -> None:
    digest = hashlib.sha256(b"breakout-v2|or-2026-09-22-0935").digest()
    assert bucket("breakout-v2", "or-2026-09-22-0935") == int.from_bytes(digest[:8]) * 10_000 >> 64
    # pinned, as Node.js computes it: (readBigUInt64BE(sha256(...), 0) * 10000n) >> 64n
    assert bucket("breakout-v2", "or-2026-09-22-0935") == 6054


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_an_assignment_is_reproducible_and_the_bucket_in_range(exp: str, signal: str) -> None:
    assert 0 <= bucket(exp, signal) < 10_000
    assert bucket(exp, signal) == bucket(exp, signal)


def test_buckets_are_uniform() -> None:
    counts = [0] * 20
    for i in range(40_000):
        counts[bucket("breakout-v2", f"sig-{i}") * 20 // 10_000] += 1
    assert stats.chisquare(counts).pvalue > 0.001


@pytest.mark.parametrize("percent", [10, 25, 50])
def test_each_ramp_step_gets_its_share(percent: int) -> None:
    experiments = configured(replace(SPEC, ramp=(percent, 100)))
    n = 20_000
    treated = round(share(experiments, n) * n)
    # within 4 standard deviations of the binomial
    assert abs(treated - n * percent / 100) < 4 * (n * percent / 100 * (1 - percent / 100)) ** 0.5


def test_assignment_is_monotone_along_the_ramp_and_independent_between_experiments() -> None:
    experiments = configured()
    at_10 = {i for i in range(5000) if assign(experiments, "Breakout", f"s{i}").arm == "treatment"}
    experiments = apply(experiments, event(ExperimentAction.PROMOTED))
    at_25 = {i for i in range(5000) if assign(experiments, "Breakout", f"s{i}").arm == "treatment"}
    assert at_10 < at_25  # still treated, and more
    other = configured(replace(SPEC, experiment_id="other"))
    in_other = {i for i in range(5000) if assign(other, "Breakout", f"s{i}").arm == "treatment"}
    overlap = len(at_10 & in_other)
    assert abs(overlap - 5000 * 0.1 * 0.1) < 4 * (5000 * 0.01 * 0.99) ** 0.5


def test_an_answer_names_the_variant_and_why() -> None:
    experiments = configured()
    answers = [assign(experiments, "Breakout", f"s{i}") for i in range(200)]
    for a in answers:
        assert a.experiment_id == "breakout-v2" and a.step == 0 and a.treatment_percent == 10
        expected = "v2" if a.bucket < 1000 else "v1"
        assert a.variant == expected
        assert a.arm == (ExperimentArm.TREATMENT if expected == "v2" else ExperimentArm.CONTROL)
    other = assign(experiments, "Mean reversion", "s1")
    assert (other.experiment_id, other.arm, other.variant) == (None, "control", None)


# -- the configuration file ----------------------------------------------------------------------

GOOD = {"id": "breakout-v2", "strategy": "Breakout", "control": "v1", "treatment": "v2"}


def test_a_file_with_defaults_and_guardrails() -> None:
    assert spec_from_config(GOOD) == SPEC
    spec = spec_from_config(
        {
            **GOOD,
            "ramp": [20, 100],
            "guardrails": {"max_drawdown": 2000, "daily_loss_limit": "750.5"},
        }
    )
    assert spec.ramp == (20, 100)
    assert not spec.auto_promote and spec_from_config({**GOOD, "auto_promote": True}).auto_promote
    assert (spec.max_drawdown, spec.daily_loss_limit) == (Decimal(2000), Decimal("750.5"))
    assert spec.phase is None and spec_from_config({**GOOD, "phase": "p-7"}).phase == "p-7"


@pytest.mark.parametrize(
    ("changes", "setting", "reason"),
    [
        ({"id": None}, "id", "is required"),
        ({"id": "has space"}, "id", "letters, digits"),
        ({"treatment": "v1"}, "treatment_variant", "must differ"),
        ({"ramp": [10, 5, 100]}, "ramp", "must rise"),
        ({"ramp": [10, 50]}, "ramp", "must end at 100"),
        ({"ramp": [0, 100]}, "ramp", "1–100"),
        ({"ramp": "10,100"}, "ramp", "list of whole percentages"),
        ({"min_trades_per_step": -1}, "min_trades_per_step", "must not be negative"),
        ({"min_days_per_step": 1.5}, "min_days_per_step", "whole number"),
        ({"guardrails": {"max_drawdown": -5}}, "guardrails.max_drawdown", "positive amount"),
        ({"guardrails": {"max_loss": 5}}, "guardrails.max_loss", "is not a guardrail"),
        ({"split": 10}, "split", "is not an experiment setting"),
        ({"auto_promote": "yes"}, "auto_promote", "must be true or false"),
        ({"phase": 7}, "phase", "must be a phase name"),
        ({"phase": "no spaces"}, "phase", "letters, digits"),
    ],
)
def test_a_bad_file_names_the_setting(changes: dict[str, Any], setting: str, reason: str) -> None:
    config = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        spec_from_config(config)
    assert caught.value.setting == setting
    assert reason in caught.value.reason
