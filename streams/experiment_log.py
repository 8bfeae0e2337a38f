"""The experiments' control topic (``control.experiments``): reading the experiments as their
events leave them, and making a change, checked against them first (``streams.experiments``)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from fillstream.settings import Settings
from schemas.events import Envelope, EventId, ExperimentAction, ExperimentChanged, Source
from streams.control import publish_control, read_events
from streams.experiments import Experiments, ExperimentSpec, apply, check, fold

TOPIC = "control.experiments"


def read_experiments(settings: Settings) -> tuple[Experiments, list[ExperimentChanged]]:
    """The experiments now, and every change in log order."""
    events = read_events(settings, TOPIC, ExperimentChanged)
    return fold(events), events


def change(
    settings: Settings,
    experiment_id: str,
    action: ExperimentAction,
    *,
    actor: str,
    reason: str = "",
    spec: ExperimentSpec | None = None,
) -> ExperimentChanged:
    """Publish a change after checking it against the experiments as the log holds them
    (``ExperimentError`` with the reason when it cannot be made); the event published."""
    experiments, _ = read_experiments(settings)
    event = change_event(experiment_id, action, actor=actor, reason=reason, spec=spec)
    check(experiments, event)
    after = apply(experiments, event).by_id.get(experiment_id)
    if after is not None:  # the step it is at once changed
        event = replace(event, step=after.step)
    publish_control(settings, TOPIC, experiment_id, event)
    return event


def change_event(
    experiment_id: str,
    action: ExperimentAction,
    *,
    actor: str,
    reason: str = "",
    spec: ExperimentSpec | None = None,
    step: int = 0,
    at: datetime | None = None,
) -> ExperimentChanged:
    """The event of a change (``spec`` for ``configured``), timed now unless ``at``."""
    now = at or datetime.now(UTC)
    envelope = Envelope(
        event_id=EventId(f"experiment-{uuid.uuid4().hex}"),
        ts_event=now,
        ts_ingested=now,
        source=Source.LIVE,
        producer="fillstream experiments",
    )
    if spec is None:
        return ExperimentChanged(
            envelope=envelope,
            experiment_id=experiment_id,
            action=action,
            actor=actor,
            reason=reason,
            step=step,
        )
    return ExperimentChanged(
        envelope=envelope,
        experiment_id=experiment_id,
        action=action,
        actor=actor,
        reason=reason,
        strategy=spec.strategy,
        control_variant=spec.control_variant,
        treatment_variant=spec.treatment_variant,
        ramp=spec.ramp,
        min_trades_per_step=spec.min_trades_per_step,
        min_days_per_step=spec.min_days_per_step,
        max_drawdown=spec.max_drawdown,
        daily_loss_limit=spec.daily_loss_limit,
        step=step,
    )
