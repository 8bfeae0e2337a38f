"""The experiment guard, in the projector process: every few seconds, each experiment that has
not ended is evaluated (``domain.experiments.guardrails.next_step``) against its treatment variant's
performance figures as just projected and its trades. A guardrail breach rolls it back with an
``ExperimentChanged`` by ``guardrail``, the breach as the reason, which the bridge applies at
once: every new signal then runs control. An experiment with ``auto_promote`` is also promoted
when its step is done, or rolled back when the treatment is found worse, by ``decision``. Each
change is made once: an ended experiment takes no more, and a promotion restarts the step.
A check reads only the trades projected since the last one (``experiment_reads``): its cost does
not grow with the experiment's trades. An experiment that goes with a phase, rolled back here,
gets its phase rolled back too (``guard_phases``). One guard acts at a time (``GuardLock``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client import Counter

from bridge.experiments import ExperimentFollower, change
from control.guard_phases import PhaseFollowUp
from core.database import connect
from core.errors import FillstreamError
from core.settings import Settings
from domain.errors import ExperimentError
from domain.experiments.guardrails import (
    TREATMENT_SQL,
    Decision,
    NextStep,
    TreatmentFigures,
    breaches,
    next_step,
    treatment_parameters,
    treatment_rows,
)
from domain.experiments.model import Experiment
from domain.experiments.stats import SequentialState
from projections.experiment_reads import Tallies
from schemas.codec import default_codec
from schemas.events import ExperimentAction

log = logging.getLogger("fillstream.projector")

INTERVAL_SECONDS = 5.0
ACTOR = "guardrail"
DECISION = "decision"
"""The actor of the changes ``auto_promote`` makes."""

ROLLBACKS = Counter(
    "fillstream_experiment_guardrail_rollbacks_total",
    "Experiments rolled back because their treatment breached a guardrail.",
    ["experiment"],
)


def treatment_figures(
    conn: psycopg.Connection[Any], experiment: Experiment
) -> list[TreatmentFigures]:
    """The treatment variant's figures the guardrails hold (``TREATMENT_SQL``)."""
    return treatment_rows(conn.execute(TREATMENT_SQL, treatment_parameters(experiment)))


def evaluate(
    conn: psycopg.Connection[Any],
    experiment: Experiment,
    at: datetime,
    *,
    sequential: SequentialState,
    step_trades: Mapping[str, int],
) -> NextStep:
    """The next step for ``experiment`` at ``at``: its guardrails against the treatment's figures,
    ``step_trades`` (per arm, since the step began) and the always-valid test over its trades."""
    return next_step(
        experiment,
        step_trades=step_trades,
        sequential_p=sequential.p_value,
        difference=sequential.difference,
        breached=breaches(experiment, treatment_figures(conn, experiment)),
        at=at,
    )


def check_once(
    settings: Settings, follower: ExperimentFollower, tallies: Tallies | None = None
) -> list[str]:
    """Act on every experiment that has not ended: roll it back on a guardrail breach; with
    ``auto_promote``, also promote it, or roll it back when the treatment is found worse. The
    ids of those changed. ``tallies``: kept from the last check (only new trades are read)."""
    tallies = tallies if tallies is not None else Tallies()
    if not follower.loaded.is_set():
        return []
    acting = [
        e
        for e in follower.experiments.by_id.values()
        if not e.ended
        and (
            e.spec.auto_promote
            or e.spec.max_drawdown is not None
            or e.spec.daily_loss_limit is not None
        )
    ]
    tallies.retain(e.spec.experiment_id for e in acting)
    if not acting:
        return []
    changed = []
    with connect(settings) as conn:
        tallied = tallies.read(conn, acting)
        for experiment in acting:
            name = experiment.spec.experiment_id
            tally = tallied[name]
            decided = evaluate(
                conn,
                experiment,
                datetime.now(UTC),
                sequential=tally.state,
                step_trades=tally.since(experiment.step_started_at),
            )
            if decided.breach:
                action, actor = ExperimentAction.ROLLED_BACK, ACTOR
            elif not experiment.spec.auto_promote:
                continue
            elif decided.decision is Decision.ROLL_BACK:
                action, actor = ExperimentAction.ROLLED_BACK, DECISION
            elif decided.decision is Decision.PROMOTE:
                action, actor = ExperimentAction.PROMOTED, DECISION
            else:
                continue
            try:
                change(settings, name, action, actor=actor, reason=decided.reason)
            except ExperimentError as e:  # changed meanwhile (by hand)
                log.info("experiment guard, %s: %s", name, e)
                continue
            if action is ExperimentAction.ROLLED_BACK and actor == ACTOR:
                ROLLBACKS.labels(name).inc()
            log.warning("experiment %s %s by %s: %s", name, action.value, actor, decided.reason)
            changed.append(name)
    return changed


class GuardLock:
    """One guard acts at a time, whatever the number of projector processes: the one holding a
    PostgreSQL advisory lock of the namespace (held by its connection: a guard that dies frees
    it, and another takes over within a check)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._conn: psycopg.Connection[Any] | None = None

    def hold(self) -> bool:
        """Whether this guard holds the lock (taking it when free)."""
        if self._conn is not None:
            try:  # the lock lives as long as the session: is it still there?
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                log.warning("experiment guard: lost its lock's connection; taking it again")
                self.release()
        conn = connect(self._settings, autocommit=True)
        (held,) = conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
            (f"fillstream-guard:{self._settings.namespace}",),
        ).fetchone() or (False,)
        if held:
            self._conn = conn
            log.info("experiment guard: acting (this process holds the guard's lock)")
        else:
            conn.close()
        return bool(held)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def guard(settings: Settings, stop: threading.Event) -> None:
    """Check every ``INTERVAL_SECONDS`` until ``stop`` while holding the guard's lock (another
    projector's guard acts meanwhile); a failed check is logged and retried."""
    follower = ExperimentFollower(settings, default_codec(), "projector-experiments").start()
    tallies, phases, lock = Tallies(), PhaseFollowUp(settings), GuardLock(settings)
    try:
        while not stop.wait(INTERVAL_SECONDS):
            try:
                if lock.hold():
                    check_once(settings, follower, tallies)
                    phases.check(follower.experiments)
            except (FillstreamError, psycopg.Error) as e:
                log.error("experiment guard: %s; retrying in %.0f s", e, INTERVAL_SECONDS)
    finally:
        lock.release()
        follower.close()
