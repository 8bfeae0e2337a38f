"""An experiment's guardrails against its treatment's figures, and what to do next. Pure.

Guardrails (``ExperimentSpec.max_drawdown``, ``daily_loss_limit``) hold per account, on the
treatment variant's performance figures (the ``variant`` scope,
``domain.performance.snapshots``): its
maximum drawdown, and its net profit on each trading day since the experiment was configured.
A breach rolls the experiment back (``control.guard`` publishes the event).

``next_step`` is the decision ``fillstream experiments show`` states: roll back on a breach, or
when the always-valid test finds the treatment worse; promote once the step has its minimum
trades in each arm and its minimum days; else continue. ``usage`` says how much of each
guardrail the treatment has used (the reports list those near their limit).

What to read is here too, for every reader with its own connection: ``TREATMENT_SQL`` and
``treatment_rows`` (the guard, the reports), ``STEP_TRADES_SQL`` and ``step_counts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

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


NEAR = 0.75
"""A guardrail used this much or more is near its limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailUse:
    """How much of one guardrail the treatment has used in one account."""

    account: str
    guardrail: str
    """``max_drawdown`` or ``daily_loss_limit``."""
    value: Decimal
    """The drawdown, or the worst day's loss since the experiment was configured (0: none)."""
    limit: Decimal

    @property
    def share(self) -> float:
        return float(self.value / self.limit)

    @property
    def near(self) -> bool:
        return self.share >= NEAR


def usage(experiment: Experiment, figures: Sequence[TreatmentFigures]) -> list[GuardrailUse]:
    """Each guardrail of ``experiment`` against the treatment's figures, account by account."""
    spec, used = experiment.spec, []
    since = experiment.configured_at.date()
    for f in sorted(figures, key=lambda f: f.account):
        if spec.max_drawdown is not None:
            used.append(GuardrailUse(account=f.account, guardrail="max_drawdown",
                                     value=f.max_drawdown, limit=spec.max_drawdown))  # fmt: skip
        if spec.daily_loss_limit is not None:
            losses = [-net for day, net in f.day_net.items() if day >= since and net < 0]
            used.append(GuardrailUse(account=f.account, guardrail="daily_loss_limit",
                                     value=max(losses, default=Decimal(0)),
                                     limit=spec.daily_loss_limit))  # fmt: skip
    return used


TREATMENT_SQL = """
WITH variant AS (  -- two index ranges, whatever plan a prepared statement gets
    SELECT * FROM performance
    WHERE strategy = %(strategy)s AND variant = %(variant)s AND time_window = 'all_time'
      AND scope = 'variant' AND left(account, 6) <> 'PAPER:'
    UNION ALL
    SELECT * FROM performance
    WHERE strategy = %(strategy)s AND variant = %(variant)s
      AND time_window = 'trading_day' AND window_key >= %(since)s
      AND scope = 'variant' AND left(account, 6) <> 'PAPER:'
)
SELECT account, time_window, window_key, max_drawdown, net_profit FROM variant
WHERE definitions_version = (SELECT max(definitions_version) FROM variant)
"""
"""The treatment variant's all-time drawdown and its net profit on each trading day since the
experiment was configured (not the variant's whole history: a check costs the same however
long it traded before), per live account (paper accounts risk nothing), of the newest
performance definitions: rows for ``treatment_rows``, parameters ``treatment_parameters``."""


def treatment_parameters(experiment: Experiment) -> dict[str, str]:
    spec = experiment.spec
    return {"strategy": spec.strategy, "variant": spec.treatment_variant,
            "since": experiment.configured_at.date().isoformat()}  # fmt: skip


def treatment_rows(rows: Iterable[Sequence[Any]]) -> list[TreatmentFigures]:
    """The figures of ``TREATMENT_SQL``'s rows, account by account."""
    drawdown: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for account, window, key, max_drawdown, net in rows:
        if window == "all_time":
            drawdown[account] = max_drawdown
        else:
            days[account][date.fromisoformat(key)] = net
    return [
        TreatmentFigures(account=a, max_drawdown=drawdown[a], day_net=days[a])
        for a in sorted(set(drawdown) | set(days))
    ]


STEP_TRADES_SQL = """
SELECT CASE WHEN variant = %(treatment)s THEN 'treatment' ELSE 'control' END, count(*)
FROM trades
WHERE strategy = %(strategy)s AND variant IN (%(control)s, %(treatment)s)
  AND exit_time >= %(since)s AND exit_time < %(until)s AND left(account, 6) <> 'PAPER:'
GROUP BY 1
"""
"""Each arm's live trades closed in ``[since, until)``: rows for ``step_counts``, parameters
``step_parameters``."""


def step_parameters(experiment: Experiment, until: datetime) -> dict[str, object]:
    spec = experiment.spec
    return {"strategy": spec.strategy, "control": spec.control_variant,
            "treatment": spec.treatment_variant, "since": experiment.step_started_at,
            "until": until}  # fmt: skip


def step_counts(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    return {arm: int(count) for arm, count in rows}


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
