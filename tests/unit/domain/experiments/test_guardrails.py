"""Guardrails and the next step, pure: breaches per account, days before the experiment ignored,
and the decision's order (ended, breach, harm, paused, promote, continue)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bridge.experiments import change_event
from domain.experiments.guardrails import Decision, TreatmentFigures, breaches, next_step
from domain.experiments.model import Experiment, ExperimentSpec, apply, fold
from schemas.events import ExperimentAction

T0 = datetime(2026, 9, 22, 14, tzinfo=UTC)
SPEC = ExperimentSpec(
    experiment_id="breakout-v2", strategy="Breakout", control_variant="v1", treatment_variant="v2",
    min_trades_per_step=30, min_days_per_step=5, max_drawdown=Decimal(2000),
    daily_loss_limit=Decimal(1000),
)  # fmt: skip


def experiment(*actions: ExperimentAction, spec: ExperimentSpec = SPEC) -> Experiment:
    events = [change_event(spec.experiment_id, ExperimentAction.CONFIGURED, actor="t", spec=spec,
                           at=T0)]  # fmt: skip
    events += [change_event(spec.experiment_id, a, actor="t", at=T0) for a in actions]
    return fold(events).get(spec.experiment_id)


def figures(account: str, drawdown: str, **days: str) -> TreatmentFigures:
    return TreatmentFigures(
        account=account,
        max_drawdown=Decimal(drawdown),
        day_net={date.fromisoformat(d.removeprefix("d")): Decimal(v) for d, v in days.items()},
    )


def test_breaches_name_the_account_the_figure_and_the_limit() -> None:
    found = breaches(experiment(), [
        figures("Sim101", "2000"),  # at the limit: holds
        figures("APEX-1", "2000.25", **{"d2026-09-22": "-1000"}),
        figures("APEX-2", "10", **{"d2026-09-23": "-1000.5", "d2026-09-21": "-5000"}),
    ])  # fmt: skip
    assert found == [
        "APEX-1: v2 drew down 2000.25, beyond the guardrail of 2000",
        "APEX-2: v2 lost 1000.5 on 2026-09-23, beyond the daily loss limit of 1000",
    ]  # 2026-09-21 is before the experiment: not its loss


def test_without_guardrails_nothing_is_breached() -> None:
    loose = replace(SPEC, max_drawdown=None, daily_loss_limit=None)
    assert breaches(experiment(spec=loose), [figures("A", "1e9", **{"d2026-09-22": "-1e9"})]) == []


def decide(e: Experiment, control: int = 40, treatment: int = 40, days: float = 6, p: float = 1.0,
           diff: float = 0.0, breached: tuple[str, ...] = ()) -> tuple[Decision, str]:  # fmt: skip
    made = next_step(e, step_trades={"control": control, "treatment": treatment},
                     sequential_p=p, difference=diff, breached=breached,
                     at=e.step_started_at + timedelta(days=days))  # fmt: skip
    return made.decision, made.reason


def test_the_next_step() -> None:
    running = experiment()
    assert decide(running)[0] is Decision.PROMOTE
    assert decide(running, treatment=29) == (
        Decision.CONTINUE, "29 of 30 trades per arm, 6.0 of 5 days at this step"
    )  # fmt: skip
    assert decide(running, days=4.9)[0] is Decision.CONTINUE
    assert decide(running, breached=("A: too deep",)) == (Decision.ROLL_BACK, "A: too deep")
    breach = next_step(running, step_trades={}, sequential_p=1.0, difference=0.0,
                       breached=("x",), at=T0)  # fmt: skip
    harm = next_step(running, step_trades={}, sequential_p=0.001, difference=-1.0,
                     breached=(), at=T0)  # fmt: skip
    assert (breach.breach, harm.breach, harm.decision) == (True, False, Decision.ROLL_BACK)
    assert decide(running, p=0.01, diff=-3.0)[0] is Decision.ROLL_BACK
    assert decide(running, p=0.01, diff=+3.0)[0] is Decision.PROMOTE  # better: no harm
    assert decide(experiment(ExperimentAction.PAUSED))[0] is Decision.NONE
    paused_breached = decide(experiment(ExperimentAction.PAUSED), breached=("x",))
    assert paused_breached[0] is Decision.ROLL_BACK
    assert decide(experiment(ExperimentAction.ROLLED_BACK), breached=("x",))[0] is Decision.NONE


def test_the_step_clock_restarts_at_each_promotion() -> None:
    configured = change_event(SPEC.experiment_id, ExperimentAction.CONFIGURED, actor="t",
                              spec=SPEC, at=T0)  # fmt: skip
    promoted = change_event(SPEC.experiment_id, ExperimentAction.PROMOTED, actor="t",
                            at=T0 + timedelta(days=10))  # fmt: skip
    e = apply(fold([configured]), promoted).get(SPEC.experiment_id)
    assert e.step_started_at == T0 + timedelta(days=10)
    made = next_step(e, step_trades={"control": 40, "treatment": 40}, sequential_p=1.0,
                     difference=0.0, breached=(), at=T0 + timedelta(days=11))  # fmt: skip
    assert made.decision is Decision.CONTINUE
    assert "1.0 of 5 days" in made.reason
