"""Phases: start one with other derivation settings, list them, roll one back in one command.

``start`` records on the control topic the phase's settings, the values they replace, where the
stream stages stand (their groups' committed offsets) and where what they write ends; the
worker, started again, runs with the active phases' settings over its own.

``rollback`` (a plan first; carried out with ``execute``):

0. rolls back the experiments that go with the phase (``phase`` in their file) and have not
   ended, so the bridge sends every new signal of theirs to control at once;
1. records the rollback with the current end offsets of what the stages write: what they wrote
   since the phase started is void from then on, for every reader (``core.control_log``);
2. rewinds each stage group to where it stood when the phase started; the stages with state get
   it rebuilt as it was then, under the restored settings (``Deriver.replay``);
3. rebuilds the projections that read the voided topics (without the void records, so without
   the phase's results), switching to them whatever the difference, which is the point.

The worker must be stopped while a phase starts or is rolled back, so the offsets recorded are
exactly where the stages stood: a worker that ``fillstream up`` runs is stopped and started
again by these commands; any other is asked to be stopped first. Once the worker runs again,
the stages derive the phase's stretch of the log again under the restored settings, and the
running projector adds the results to the rebuilt versions.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bridge.experiments import change, read_experiments
from control.errors import OffsetsError
from control.offsets import Move, apply_rewind, group_positions, resolve_group
from core.control_log import (
    STAGE_GROUPS,
    STAGE_OUTPUTS,
    Phase,
    PhaseLog,
    check_name,
    check_settings,
    effective_settings,
    phase_event,
    publish,
    read_log,
)
from core.errors import ConfigError, PhaseError
from core.settings import Settings
from deploy import services
from domain.errors import ExperimentError
from domain.regimes import parse_classifiers
from projections import PROJECTIONS
from projections.projection import Projection
from projections.rebuild import Outcome, log_end, rebuild
from schemas.events import ExperimentAction, PhaseAction, PhaseChanged

Say = Callable[[str], None]


def load_config(path: Path) -> dict[str, str]:
    """A phase's settings from a TOML file: ``[settings]`` (or top-level keys) of setting
    names and values, checked like the environment would be."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise PhaseError(f"{path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise PhaseError(f"{path}: not TOML ({e})") from e
    table = data.get("settings", data)
    if not isinstance(table, dict) or not table:
        raise PhaseError(f'{path}: no settings (e.g. [settings] FILLSTREAM_MATCHING = "fifo")')
    config = {}
    for name, value in table.items():
        if isinstance(value, dict | list):
            raise ConfigError(name, f"in {path} must be a single value")
        config[name] = str(value).lower() if isinstance(value, bool) else str(value)
    check_settings(config)
    return config


def start(
    settings: Settings,
    name: str,
    config: Mapping[str, str],
    *,
    say: Say,
    then: Callable[[], None] | None = None,
) -> PhaseChanged:
    """Start phase ``name`` with ``config``; see the module's docstring. ``then`` runs once the
    phase is recorded, the worker still stopped (a rewind that belongs to the phase: the offsets
    recorded are from before it, so a rollback undoes it)."""
    check_name(name)
    check_settings(config)
    log = read_log(settings)
    if any(p.name == name for p in log.active()):
        raise PhaseError(f"phase {name!r} is already active; roll it back first")
    before = effective_settings(settings, log)
    after = Settings.from_env({**before.to_env(), **config})  # names a bad value's setting
    parse_classifiers(after.regime)  # FILLSTREAM_REGIME, which core does not check
    with _worker_stopped(settings, say):
        current = before.to_env()
        event = phase_event(
            name,
            PhaseAction.STARTED,
            settings=config,
            previous={k: current[k] for k in config},
            groups=_group_offsets(settings),
            ends=_ends(settings),
        )
        publish(settings, event)
        say(f"phase {name} started: " + ", ".join(f"{k}={v}" for k, v in config.items()))
        if then is not None:
            then()
    return event


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    phase: Phase
    settings: dict[str, tuple[str, str]]
    """Setting → (the phase's value, the value restored)."""
    moves: dict[str, list[Move]]
    """Stage group → its partitions' moves back to where they stood at the phase's start."""
    void: dict[str, tuple[int, int]]
    """``topic|partition`` → the offsets voided, [start, end)."""
    projections: tuple[Projection, ...]
    """Rebuilt: those that read a topic with a void range."""
    experiments: tuple[str, ...] = ()
    """Rolled back: the experiments that go with the phase and have not ended."""

    def render(self) -> str:
        lines = [f"rollback of phase {self.phase.name}:"]
        lines += [
            f"  experiment {e}: rolled back (its signals run control)" for e in self.experiments
        ]
        lines += [f"  setting  {k}: {new} -> {old}" for k, (new, old) in self.settings.items()]
        for group, moves in self.moves.items():
            for m in moves:
                current = "-" if m.current is None else str(m.current)
                lines.append(f"  rewind   {group} {m.topic}[{m.partition}]: {current} -> {m.new}")
        for key, (a, b) in self.void.items():
            topic, _, partition = key.rpartition("|")
            lines.append(f"  void     {topic}[{partition}] offsets {a}..{b - 1} ({b - a:,})")
        lines += [f"  rebuild  {p.name}" for p in self.projections]
        return "\n".join(lines)


def plan_rollback(settings: Settings, name: str, log: PhaseLog | None = None) -> RollbackPlan:
    log = log if log is not None else read_log(settings)
    phase = log.find_active(name)
    active = log.active()
    later = [p.name for p in active[active.index(phase) + 1 :]]
    if later:
        raise PhaseError(
            f"phases started after {name} are active ({', '.join(later)}); roll them back first"
        )
    started = phase.started
    moves: dict[str, list[Move]] = {}
    committed = {group: dict(rows) for group, rows in _committed(settings).items()}
    for key, offset in sorted(started.groups.items()):
        group, topic, partition = key.split("|")
        current = committed.get(group, {}).get((settings.topic(topic), int(partition)))
        moves.setdefault(group, []).append(
            Move(topic=settings.topic(topic), partition=int(partition), current=current, new=offset)
        )
    ends = _ends(settings)
    void = {k: (a, ends.get(k, a)) for k, a in sorted(started.ends.items()) if ends.get(k, a) > a}
    voided = {settings.topic(k.rpartition("|")[0]) for k in void}
    affected = tuple(p for p in PROJECTIONS if any(settings.topic(t) in voided for t in p.topics))
    experiments, _ = read_experiments(settings)
    return RollbackPlan(
        phase=phase,
        settings={k: (v, started.previous.get(k, "")) for k, v in started.settings.items()},
        moves=moves,
        void=void,
        projections=affected,
        experiments=tuple(
            sorted(
                e.spec.experiment_id
                for e in experiments.by_id.values()
                if e.spec.phase == name and not e.ended
            )
        ),  # fmt: skip
    )


def rollback(
    settings: Settings, name: str, *, say: Say, actor: str, keep_old: bool = False
) -> tuple[RollbackPlan, list[Outcome]]:
    """Roll phase ``name`` back, ``actor`` recorded as who rolled its experiments back; see the
    module's docstring."""
    for experiment_id in plan_rollback(settings, name).experiments:
        try:
            change(settings, experiment_id, ExperimentAction.ROLLED_BACK, actor=actor,
                   reason=f"phase {name} rolled back")  # fmt: skip
            say(f"phase {name}: experiment {experiment_id} rolled back (its signals run control)")
        except ExperimentError as e:  # ended meanwhile
            say(f"phase {name}: experiment {experiment_id}: {e}")
    with _worker_stopped(settings, say):
        plan = plan_rollback(settings, name)
        publish(settings, phase_event(name, PhaseAction.ROLLED_BACK, ends=_ends(settings)))
        say(f"phase {name}: rolled back on the control topic; its settings no longer apply")
        for group, moves in plan.moves.items():
            replayed = apply_rewind(settings, group, moves)
            say(f"phase {name}: {group} rewound" + (
                f", its state rebuilt from {replayed:,} records" if replayed else ""))  # fmt: skip
        outcomes = [
            rebuild(settings, p, accept_diff=True, keep_old=keep_old, say=say)
            for p in plan.projections
        ]
    return plan, outcomes


def render_list(log: PhaseLog) -> str:
    rows = [("phase", "state", "started", "rolled back", "settings")]
    for p in log.phases():
        rows.append(
            (
                p.name,
                "active" if p.active else "rolled back",
                p.started.envelope.ts_event.isoformat(timespec="seconds"),
                "-" if p.rolled_back is None
                else p.rolled_back.envelope.ts_event.isoformat(timespec="seconds"),
                ", ".join(f"{k}={v}" for k, v in p.started.settings.items()),
            )
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def phase_offsets(settings: Settings, name: str, group: str) -> dict[tuple[str, int], int]:
    """Where ``group`` stood when phase ``name`` (its latest start) began, by full topic name
    and partition: ``offsets rewind GROUP --to-phase NAME``."""
    log = read_log(settings)
    starts = [p for p in log.phases() if p.name == name]
    if not starts:
        known = ", ".join(sorted({p.name for p in log.phases()})) or "none"
        raise OffsetsError(f"no phase named {name!r} (phases: {known})")
    wanted = resolve_group(settings, group).removeprefix(settings.namespace + ".")
    offsets = {}
    for key, offset in starts[-1].started.groups.items():
        recorded, topic, partition = key.split("|")
        if recorded == wanted:
            offsets[(settings.topic(topic), int(partition))] = offset
    if not offsets:
        raise OffsetsError(f"phase {name} recorded no offsets for {wanted}")
    return offsets


def _committed(settings: Settings) -> dict[str, list[tuple[tuple[str, int], int | None]]]:
    out: dict[str, list[tuple[tuple[str, int], int | None]]] = {}
    prefix = settings.namespace + "."
    for position in group_positions(settings):
        group = position.group.removeprefix(prefix)
        if group in STAGE_GROUPS:
            out[group] = [((p.topic, p.partition), p.committed) for p in position.partitions]
    return out


def _group_offsets(settings: Settings) -> dict[str, int]:
    """``group|topic|partition`` → committed offset, of the stage groups (catalog names)."""
    prefix = settings.namespace + "."
    return {
        f"{group}|{topic.removeprefix(prefix)}|{partition}": offset
        for group, rows in _committed(settings).items()
        for (topic, partition), offset in rows
        if offset is not None
    }


def _ends(settings: Settings) -> dict[str, int]:
    """``topic|partition`` → end offset, of what the stages write (catalog names)."""
    prefix = settings.namespace + "."
    return {
        f"{full.removeprefix(prefix)}|{partition}": offset
        for (full, partition), offset in log_end(settings, STAGE_OUTPUTS).items()
    }


@contextmanager
def _worker_stopped(settings: Settings, say: Say) -> Iterator[None]:
    """Stop the worker that ``fillstream up`` runs for the duration (and start it again);
    refuse when another process reads with a stage group."""
    status = services.service_status(settings, "worker")
    if status.running:
        say("stopping the worker (fillstream up started it; it is started again after)")
        services.stop_service(settings, "worker")
    try:
        busy = [
            f"{p.group} ({', '.join(p.members)})"
            for p in group_positions(settings)
            if p.members and p.group.removeprefix(settings.namespace + ".") in STAGE_GROUPS
        ]
        if busy:
            raise PhaseError(
                "the stream worker is running: stop it first, the offsets recorded must be where"
                f" its stages stand ({'; '.join(busy)})"
            )
        yield
    finally:
        if status.running:
            services.start_service(settings, "worker")
            services.wait_healthy(settings, "worker")
            say("worker started again")
