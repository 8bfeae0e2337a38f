"""A/B experiments: their configuration, the fold of their control events, and the assignment of
a signal to an arm. Pure.

An experiment splits one strategy's signals between two arms: ``control`` runs the current
variant, ``treatment`` the new one, on a ramp of treatment shares (10 → 25 → 50 → 100 % by
default). Its life is the fold of its ``ExperimentChanged`` events on ``control.experiments``
(``apply``): configured at the ramp's first step, paused and resumed, promoted step by step (from
the last step, completed), or rolled back for good. A kill switch (experiment id ``*``) sends
every signal of every experiment to control until it is revived.

Assignment (``assign``) is a deterministic hash: the signal's *bucket* is the first 8 bytes of
SHA-256(``<experiment id>|<signal id>``) scaled to 0–9999, and the signal runs treatment when its
bucket is below the treatment's share in basis points. So an assignment is reproducible on
replay, uniform across signals, independent between experiments, and monotone along the ramp: a
signal in treatment at 10 % is still in treatment at 25 %.

``check`` tells whether a change may be made to the experiments as they stand (the CLI refuses
with its reason); ``apply`` ignores a change that ``check`` refuses, so a log holding one (two
operators at once) folds the same everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from core.errors import ConfigError
from domain.errors import ExperimentError
from schemas.events import ExperimentAction, ExperimentArm, ExperimentChanged

KILL_SWITCH = "*"
"""The experiment id of the kill switch's events."""

DEFAULT_RAMP = (10, 25, 50, 100)
BUCKETS = 10_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Status(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    """Promoted past its last step: every signal runs treatment."""
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentSpec:
    """What an experiment is, as configured."""

    experiment_id: str
    strategy: str
    control_variant: str
    treatment_variant: str
    ramp: tuple[int, ...] = DEFAULT_RAMP
    min_trades_per_step: int = 30
    min_days_per_step: int = 5
    max_drawdown: Decimal | None = None
    daily_loss_limit: Decimal | None = None
    auto_promote: bool = False
    """Whether the experiment guard promotes it by itself (``guardrails.next_step``)."""
    phase: str | None = None
    """The phase that goes with it (``fillstream phase``): rolling the phase back rolls the
    experiment back, and the guard rolling the experiment back rolls the phase back."""

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.experiment_id):
            raise ConfigError(
                "id",
                f"must be letters, digits, '.', '_' and '-' (at most 64), "
                f"was {self.experiment_id!r}",
            )
        for name in ("strategy", "control_variant", "treatment_variant"):
            if not getattr(self, name).strip():
                raise ConfigError(name, "must not be empty")
        if self.control_variant == self.treatment_variant:
            raise ConfigError(
                "treatment_variant", f"must differ from control_variant ({self.control_variant!r})"
            )
        if not self.ramp or any(not 0 < p <= 100 for p in self.ramp):
            raise ConfigError("ramp", f"must be percentages in 1–100, was {list(self.ramp)}")
        if any(b <= a for a, b in zip(self.ramp, self.ramp[1:], strict=False)):
            raise ConfigError("ramp", f"must rise step by step, was {list(self.ramp)}")
        if self.ramp[-1] != 100:
            raise ConfigError("ramp", f"must end at 100, was {list(self.ramp)}")
        for name in ("min_trades_per_step", "min_days_per_step"):
            if getattr(self, name) < 0:
                raise ConfigError(name, f"must not be negative, was {getattr(self, name)}")
        for name in ("max_drawdown", "daily_loss_limit"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise ConfigError(f"guardrails.{name}", f"must be a positive amount, was {value}")
        if self.phase is not None and not _ID.fullmatch(self.phase):
            raise ConfigError(
                "phase",
                f"must be a phase name (letters, digits, '.', '_' and '-'), was {self.phase!r}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """An experiment as its events left it."""

    spec: ExperimentSpec
    status: Status
    step: int
    step_started_at: datetime
    """Event time of the change that brought it to its step."""
    configured_at: datetime
    changed_at: datetime
    changed_by: str
    reason: str = ""

    @property
    def treatment_percent(self) -> int:
        """The treatment's share of new signals now (not counting the kill switch)."""
        match self.status:
            case Status.RUNNING:
                return self.spec.ramp[self.step]
            case Status.COMPLETED:
                return 100
            case _:
                return 0

    @property
    def ended(self) -> bool:
        return self.status in (Status.COMPLETED, Status.ROLLED_BACK)


@dataclass(frozen=True, slots=True)
class Experiments:
    """Every experiment by id, and the kill switch."""

    by_id: Mapping[str, Experiment] = field(default_factory=lambda: MappingProxyType({}))
    killed: bool = False
    killed_by: str = ""

    def get(self, experiment_id: str) -> Experiment:
        try:
            return self.by_id[experiment_id]
        except KeyError:
            known = ", ".join(sorted(self.by_id)) or "none"
            raise ExperimentError(f"no experiment {experiment_id!r} (known: {known})") from None

    def running_for(self, strategy: str) -> Experiment | None:
        """The experiment that splits ``strategy``'s signals now: the one not ended."""
        for experiment in self.by_id.values():
            if experiment.spec.strategy == strategy and not experiment.ended:
                return experiment
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """Which arm runs a signal, and why."""

    experiment_id: str | None
    arm: ExperimentArm
    variant: str | None
    step: int = 0
    treatment_percent: int = 0
    bucket: int = 0
    reason: str


def bucket(experiment_id: str, signal_id: str) -> int:
    """The signal's bucket in the experiment, 0 to 9999 (see the module docstring)."""
    digest = hashlib.sha256(f"{experiment_id}|{signal_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") * BUCKETS) >> 64


def assign(experiments: Experiments, strategy: str, signal_id: str) -> Assignment:
    """The arm that runs ``signal_id`` of ``strategy``: control unless an experiment running
    for the strategy puts its bucket under the treatment's share."""
    experiment = experiments.running_for(strategy)
    if experiment is None:
        return Assignment(
            experiment_id=None,
            arm=ExperimentArm.CONTROL,
            variant=None,
            reason="no experiment is running for this strategy",
        )
    spec = experiment.spec
    percent = 0 if experiments.killed else experiment.treatment_percent
    drawn = bucket(spec.experiment_id, signal_id)
    treated = drawn < percent * (BUCKETS // 100)
    if experiments.killed:
        reason = f"the kill switch is on ({experiments.killed_by})"
    elif experiment.status is Status.PAUSED:
        reason = "the experiment is paused"
    else:
        reason = f"bucket {drawn} {'<' if treated else '>='} {percent * (BUCKETS // 100)}"
    return Assignment(
        experiment_id=spec.experiment_id,
        arm=ExperimentArm.TREATMENT if treated else ExperimentArm.CONTROL,
        variant=spec.treatment_variant if treated else spec.control_variant,
        step=experiment.step,
        treatment_percent=percent,
        bucket=drawn,
        reason=reason,
    )


def check(experiments: Experiments, event: ExperimentChanged) -> None:
    """Refuse, with the reason, a change that cannot be made to ``experiments``."""
    action, name = event.action, event.experiment_id
    if name == KILL_SWITCH:
        if action is ExperimentAction.KILLED and experiments.killed:
            raise ExperimentError("the kill switch is already on")
        if action is ExperimentAction.REVIVED and not experiments.killed:
            raise ExperimentError("the kill switch is not on")
        if action not in (ExperimentAction.KILLED, ExperimentAction.REVIVED):
            raise ExperimentError(f"'{KILL_SWITCH}' is the kill switch: only killed or revived")
        return
    if action is ExperimentAction.CONFIGURED:
        if name in experiments.by_id:
            raise ExperimentError(f"experiment {name!r} exists already: choose another id")
        spec = spec_of(event)
        running = experiments.running_for(spec.strategy)
        if running is not None:
            raise ExperimentError(
                f"experiment {running.spec.experiment_id!r} already splits {spec.strategy!r}: "
                "roll it back or complete it first"
            )
        return
    experiment = experiments.get(name)
    if experiment.ended:
        raise ExperimentError(f"experiment {name!r} has ended ({experiment.status})")
    match action:
        case ExperimentAction.PAUSED if experiment.status is Status.PAUSED:
            raise ExperimentError(f"experiment {name!r} is already paused")
        case ExperimentAction.RESUMED if experiment.status is not Status.PAUSED:
            raise ExperimentError(f"experiment {name!r} is not paused")
        case ExperimentAction.PROMOTED if experiment.status is Status.PAUSED:
            raise ExperimentError(f"experiment {name!r} is paused: resume it first")
        case ExperimentAction.KILLED | ExperimentAction.REVIVED | ExperimentAction.UNKNOWN:
            raise ExperimentError(f"{action} applies to the kill switch ('{KILL_SWITCH}') only")


def apply(experiments: Experiments, event: ExperimentChanged) -> Experiments:
    """The experiments after ``event``; unchanged when ``check`` refuses it."""
    try:
        check(experiments, event)
    except (ExperimentError, ConfigError):
        return experiments
    at, action = event.envelope.ts_event, event.action
    if event.experiment_id == KILL_SWITCH:
        killed = action is ExperimentAction.KILLED
        return replace(experiments, killed=killed, killed_by=_who(event) if killed else "")
    if action is ExperimentAction.CONFIGURED:
        experiment = Experiment(
            spec=spec_of(event),
            status=Status.RUNNING,
            step=0,
            step_started_at=at,
            configured_at=at,
            changed_at=at,
            changed_by=event.actor,
            reason=event.reason,
        )
    else:
        experiment = _changed(experiments.by_id[event.experiment_id], event)
    return replace(
        experiments,
        by_id=MappingProxyType({**experiments.by_id, event.experiment_id: experiment}),
    )


def fold(events: Iterable[ExperimentChanged]) -> Experiments:
    experiments = Experiments()
    for event in events:
        experiments = apply(experiments, event)
    return experiments


def _changed(experiment: Experiment, event: ExperimentChanged) -> Experiment:
    at = event.envelope.ts_event
    touched = replace(experiment, changed_at=at, changed_by=event.actor, reason=event.reason)
    match event.action:
        case ExperimentAction.PAUSED:
            return replace(touched, status=Status.PAUSED)
        case ExperimentAction.RESUMED:
            return replace(touched, status=Status.RUNNING)
        case ExperimentAction.ROLLED_BACK:
            return replace(touched, status=Status.ROLLED_BACK)
        case ExperimentAction.PROMOTED if experiment.step + 1 < len(experiment.spec.ramp):
            return replace(touched, step=experiment.step + 1, step_started_at=at)
        case ExperimentAction.PROMOTED:
            return replace(touched, status=Status.COMPLETED, step_started_at=at)
    return experiment


def spec_of(event: ExperimentChanged) -> ExperimentSpec:
    """The specification a ``configured`` event carries."""
    return ExperimentSpec(
        experiment_id=event.experiment_id,
        strategy=event.strategy or "",
        control_variant=event.control_variant or "",
        treatment_variant=event.treatment_variant or "",
        ramp=tuple(event.ramp),
        min_trades_per_step=event.min_trades_per_step,
        min_days_per_step=event.min_days_per_step,
        max_drawdown=event.max_drawdown,
        daily_loss_limit=event.daily_loss_limit,
        auto_promote=event.auto_promote,
        phase=event.phase,
    )


def spec_from_config(config: Mapping[str, Any]) -> ExperimentSpec:
    """An experiment's specification from its file's table (TOML), each mistake a
    ``ConfigError`` naming the key."""
    known = {
        "id", "strategy", "control", "treatment", "ramp", "min_trades_per_step",
        "min_days_per_step", "guardrails", "auto_promote", "phase",
    }  # fmt: skip
    for key in config:
        if key not in known:
            raise ConfigError(
                key, f"is not an experiment setting (one of {', '.join(sorted(known))})"
            )
    for key in ("id", "strategy", "control", "treatment"):
        if not isinstance(config.get(key), str):
            raise ConfigError(key, "is required (a string)")
    guardrails = config.get("guardrails", {})
    if not isinstance(guardrails, Mapping):
        raise ConfigError("guardrails", "must be a table (max_drawdown, daily_loss_limit)")
    for key in guardrails:
        if key not in ("max_drawdown", "daily_loss_limit"):
            raise ConfigError(
                f"guardrails.{key}", "is not a guardrail (max_drawdown, daily_loss_limit)"
            )
    ramp = config.get("ramp", list(DEFAULT_RAMP))
    if not isinstance(ramp, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in ramp
    ):
        raise ConfigError("ramp", f"must be a list of whole percentages, was {ramp!r}")
    counts = {}
    for key, default in (("min_trades_per_step", 30), ("min_days_per_step", 5)):
        value = config.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(key, f"must be a whole number, was {value!r}")
        counts[key] = value
    auto_promote = config.get("auto_promote", False)
    if not isinstance(auto_promote, bool):
        raise ConfigError("auto_promote", f"must be true or false, was {auto_promote!r}")
    phase = config.get("phase")
    if phase is not None and not isinstance(phase, str):
        raise ConfigError("phase", f"must be a phase name (a string), was {phase!r}")
    return ExperimentSpec(
        experiment_id=config["id"],
        strategy=config["strategy"],
        control_variant=config["control"],
        treatment_variant=config["treatment"],
        ramp=tuple(ramp),
        min_trades_per_step=counts["min_trades_per_step"],
        min_days_per_step=counts["min_days_per_step"],
        max_drawdown=_amount(guardrails, "max_drawdown"),
        daily_loss_limit=_amount(guardrails, "daily_loss_limit"),
        auto_promote=auto_promote,
        phase=phase,
    )


def _amount(guardrails: Mapping[str, Any], key: str) -> Decimal | None:
    value = guardrails.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"guardrails.{key}", f"must be an amount, was {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise ConfigError(f"guardrails.{key}", f"must be an amount, was {value!r}") from None


def _who(event: ExperimentChanged) -> str:
    return f"{event.actor}: {event.reason}" if event.reason else event.actor
