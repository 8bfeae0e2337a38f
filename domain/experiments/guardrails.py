"""An experiment's guardrails against its treatment's figures, and what to do next. Pure.

Guardrails (``ExperimentSpec.max_drawdown``, ``daily_loss_limit``) hold per account, on the
treatment variant's performance figures (the ``variant`` scope,
``domain.performance.snapshots``): its
maximum drawdown, and its net profit on each trading day since the experiment was configured.
A breach rolls the experiment back (``control.guard`` publishes the event).

``next_step`` is the decision ``fillstream experiments show`` states: roll back on a breach, or
when the always-valid test finds the treatment worse; promote once the step has its minimum
trades in each arm and its minimum days; else continue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from domain.experiments.model import Experiment, Status

ALPHA = 0.05
"""The always-valid p-value under which the sequential test counts as a finding."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TreatmentFigures:
    """The treatment variant's figures in one account."""

    account: str
    max_drawdown: Decimal
    """All time, a positive amount (the largest fall from a running peak)."""
    day_net: Mapping[date, Decimal]
    """Net profit per trading day."""


def breaches(experiment: Experiment, figures: Sequence[TreatmentFigures]) -> list[str]:
    """Why the guardrails are breached (nothing: they hold), account by account."""
    spec, found = experiment.spec, []
    since = experiment.configured_at.date()
    for f in sorted(figures, key=lambda f: f.account):
        if spec.max_drawdown is not None and f.max_drawdown > spec.max_drawdown:
            found.append(
                f"{f.account}: {spec.treatment_variant} drew down {_amount(f.max_drawdown)}, "
                f"beyond the guardrail of {_amount(spec.max_drawdown)}"
            )
        if spec.daily_loss_limit is not None:
            for day, net in sorted(f.day_net.items()):
                if day >= since and -net > spec.daily_loss_limit:
                    found.append(
                        f"{f.account}: {spec.treatment_variant} lost {_amount(-net)} on {day}, "
                        f"beyond the daily loss limit of {_amount(spec.daily_loss_limit)}"
                    )
    return found


def _amount(value: Decimal) -> str:
    """Without the trailing zeros of the schemas' scale: 100, not 100.0000000000."""
    return format(value.normalize(), "f")


class Decision(StrEnum):
    CONTINUE = "continue"
    PROMOTE = "promote"
    ROLL_BACK = "roll back"
    NONE = "none"
    """Ended or paused: nothing to decide."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NextStep:
    decision: Decision
    reason: str
    breach: bool = False
    """A roll back for a guardrail breach (which the guard carries out for every experiment)."""


def next_step(
    experiment: Experiment,
    *,
    step_trades: Mapping[str, int],
    sequential_p: float,
    difference: float,
    breached: Sequence[str],
    at: datetime,
) -> NextStep:
    """What to do with ``experiment`` at ``at``; ``step_trades`` counts each arm's trades closed
    since its step began (``control``, ``treatment``)."""
    if experiment.ended:
        return NextStep(decision=Decision.NONE, reason=f"ended ({experiment.status})")
    if breached:
        return NextStep(decision=Decision.ROLL_BACK, reason="; ".join(breached), breach=True)
    if sequential_p < ALPHA and difference < 0:
        return NextStep(
            decision=Decision.ROLL_BACK,
            reason=f"the treatment is worse (always-valid p {sequential_p:.4f})",
        )
    if experiment.status is Status.PAUSED:
        return NextStep(decision=Decision.NONE, reason="paused")
    spec = experiment.spec
    fewest = min(step_trades.get("control", 0), step_trades.get("treatment", 0))
    days = (at - experiment.step_started_at).total_seconds() / 86_400
    if fewest >= spec.min_trades_per_step and days >= spec.min_days_per_step:
        return NextStep(
            decision=Decision.PROMOTE,
            reason=f"{fewest} trades per arm and {days:.1f} days at this step "
            f"(minimum {spec.min_trades_per_step} and {spec.min_days_per_step})",
        )
    return NextStep(
        decision=Decision.CONTINUE,
        reason=f"{fewest} of {spec.min_trades_per_step} trades per arm, {days:.1f} of "
        f"{spec.min_days_per_step} days at this step",
    )
