"""The guard's follow-up on phases: when it rolls back an experiment that goes with a phase
(``phase`` in the experiment's file), by a guardrail breach or by its decision, it rolls the phase
back too, through ``control.phases.rollback``: the phase's settings restored, the stream
stages rewound, the projections rebuilt. The experiment's own rollback takes effect at once (the
bridge sends its signals to control); the phase's, which stops and starts the worker and rebuilds,
runs in a thread of its own.

It acts on what the experiments' log shows, so a projector started again after a crash still
rolls back the phase of an experiment rolled back before it: an automatic rollback whose phase
is still active and began before it. Each phase is attempted once per process; a failure (a
worker that ``fillstream up`` does not run must be stopped by hand first) is logged with the
command to finish it."""

from __future__ import annotations

import logging
import threading

from prometheus_client import Counter

from control.phases import rollback
from core.control_log import read_log
from core.settings import Settings
from domain.experiments.model import Experiment, Experiments, Status
from schemas.events import ExperimentAction

log = logging.getLogger("fillstream.projector")

AUTOMATIC = ("guardrail", "decision")
"""The actors of the guard's own changes (``control.guard``)."""

PHASE_ROLLBACKS = Counter(
    "fillstream_experiment_phase_rollbacks_total",
    "Phases rolled back by the experiment guard after it rolled back their experiment.",
    ["phase", "outcome"],
)


def _rolled_back_automatically(experiment: Experiment) -> bool:
    return experiment.status is Status.ROLLED_BACK and experiment.changed_by in AUTOMATIC


class PhaseFollowUp:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._seen: set[str] = set()
        """Experiments looked at (each once) and phases attempted."""
        self._threads: list[threading.Thread] = []

    def check(self, experiments: Experiments) -> list[str]:
        """Start rolling back the phase of each experiment rolled back automatically, whose phase
        is active and began before that; the phases started on."""
        due = [
            e
            for e in experiments.by_id.values()
            if e.spec.phase
            and _rolled_back_automatically(e)
            and e.spec.experiment_id not in self._seen
        ]
        if not due:
            return []
        active = {p.name: p for p in read_log(self._settings).active()}
        started = []
        for experiment in due:
            self._seen.add(experiment.spec.experiment_id)
            name = experiment.spec.phase or ""
            phase = active.get(name)
            if (
                phase is None
                or phase.started.envelope.ts_event > experiment.changed_at
                or f"phase:{name}" in self._seen
            ):
                continue  # rolled back already, a later phase of the same name, or under way
            self._seen.add(f"phase:{name}")
            thread = threading.Thread(
                target=self._roll_back,
                args=(name, experiment),
                name=f"phase-rollback-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            started.append(name)
        return started

    def join(self, timeout: float) -> None:
        """Wait for the rollbacks under way (at most ``timeout`` seconds each)."""
        for thread in self._threads:
            thread.join(timeout)

    def _roll_back(self, name: str, experiment: Experiment) -> None:
        experiment_id, actor = experiment.spec.experiment_id, experiment.changed_by
        log.warning(
            "experiment %s was %s by %s: rolling back its phase %s",
            experiment_id, ExperimentAction.ROLLED_BACK.value, actor, name,
        )  # fmt: skip
        try:
            rollback(self._settings, name, say=lambda line: log.warning("%s", line), actor=actor)
        except Exception as e:  # the thread's edge: whatever failed, say how to finish
            PHASE_ROLLBACKS.labels(name, "failed").inc()
            log.error(
                "experiment %s was rolled back by %s, but its phase %s could not be: %s;"
                " finish it with: fillstream phase rollback %s --execute",
                experiment_id, actor, name, e, name,
            )  # fmt: skip
            return
        PHASE_ROLLBACKS.labels(name, "done").inc()
        log.warning("phase %s rolled back after experiment %s", name, experiment_id)
