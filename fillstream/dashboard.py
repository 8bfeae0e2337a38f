"""The control plane as the read API asks for it (``api.control.Control``): the experiments as
``fillstream experiments show --json`` prints them, and the changes a page makes, recorded as
the same events the CLI records (``ExperimentChanged``, ``AlertSilenced``) with who =
``dashboard``."""

from __future__ import annotations

import math
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from alerts.silences import in_force, silence
from api.control import ACTOR, ControlError
from bridge.experiments import change, read_experiments
from control.errors import OffsetsError
from control.offsets import group_positions
from core.errors import ServiceError
from core.settings import Settings
from domain.errors import ExperimentError
from domain.experiments.model import KILL_SWITCH
from fillstream.commands.alerts import silence_json
from fillstream.commands.experiments import (
    _CHANGES,
    _list_json,
    build_shown,
    report_json,
    rollout_json,
)
from schemas.codec import default_codec
from schemas.events import AlertSilenced, ExperimentAction

SILENCES_READ_SECONDS = 15.0


class DashboardControl:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def experiments(self) -> list[dict[str, Any]]:
        listed = _list_json(read_experiments(self.settings)[0])
        return [{**e, "kill_switch": listed["kill_switch"]} for e in _plain(listed["experiments"])]

    def experiment(self, experiment_id: str) -> dict[str, Any]:
        experiments, events = read_experiments(self.settings)
        try:
            found = experiments.get(experiment_id)
        except ExperimentError as e:
            raise KeyError(str(e)) from None
        shown = build_shown(self.settings, found, 0.95, None)
        history = [
            {
                "at": e.envelope.ts_event.isoformat(),
                "action": e.action.value,
                "step": e.step,
                "by": e.actor,
                "reason": e.reason,
            }
            for e in events
            if e.experiment_id in (experiment_id, KILL_SWITCH)
        ]
        decided = shown.next_step
        shown_json: dict[str, Any] = _plain(
            {
                **report_json(shown.report),
                "rollout": rollout_json(shown.rollout),
                "next_step": {"decision": decided.decision.value, "reason": decided.reason},
                "kill_switch": experiments.killed,
                "history": history,
            }
        )
        return shown_json

    def change_experiment(self, experiment_id: str, action: str, reason: str) -> dict[str, Any]:
        try:
            event = change(
                self.settings, experiment_id, _CHANGES[action], actor=ACTOR, reason=reason
            )
        except ExperimentError as e:
            raise ControlError(str(e)) from None
        return {"experiment": experiment_id, "action": event.action.value, "by": event.actor}

    def switch(self, action: str, reason: str) -> dict[str, Any]:
        kind = ExperimentAction.KILLED if action == "kill" else ExperimentAction.REVIVED
        try:
            event = change(self.settings, KILL_SWITCH, kind, actor=ACTOR, reason=reason)
        except ExperimentError as e:
            raise ControlError(str(e)) from None
        return {"kill_switch": action == "kill", "action": event.action.value, "by": event.actor}

    def pipeline(self) -> dict[str, Any]:
        try:
            groups = group_positions(self.settings)
        except OffsetsError as e:
            raise ServiceError("kafka", str(e)) from None
        prefix = self.settings.namespace + "."
        return {
            "groups": [
                {
                    "group": g.group.removeprefix(prefix),
                    "state": g.state,
                    "members": len(g.members),
                    "lag": g.lag,
                }
                for g in groups
            ],  # fmt: skip
            "latency": _latency(f"http://127.0.0.1:{self.settings.projector_port}/metrics"),
        }

    def silences(self) -> list[dict[str, Any]]:
        return [silence_json(s) for s in self._in_force()]

    def silence(self, matchers: dict[str, str], seconds: int, comment: str) -> dict[str, Any]:
        made = silence(self.settings, default_codec(), matchers,
                       duration=timedelta(seconds=seconds), comment=comment, by=ACTOR)  # fmt: skip
        return silence_json(made)

    def unsilence(self, silence_id: str) -> dict[str, Any]:
        found = next((s for s in self._in_force() if s.silence_id == silence_id), None)
        if found is None:
            raise KeyError(f"no silence {silence_id!r} is in force")
        ended = silence(self.settings, default_codec(), found.matchers, duration=timedelta(0),
                        comment=found.comment, by=ACTOR, silence_id=silence_id)  # fmt: skip
        return silence_json(ended)

    def _in_force(self) -> list[AlertSilenced]:
        found = in_force(self.settings, default_codec(), timeout=SILENCES_READ_SECONDS)
        if found is None:
            raise ServiceError("kafka", "control.silences could not be read in time")
        return found


LATENCY = "fillstream_projector_ingest_to_projected_seconds"
METRICS_SECONDS = 2.0


def _latency(url: str) -> list[dict[str, Any]]:
    """Per projection, from the projector's histogram: how many rows, and the bucket bounds
    under which half and 99 % of them were projected (None where the projector is down)."""
    try:
        with urllib.request.urlopen(url, timeout=METRICS_SECONDS) as response:
            text = response.read().decode()
    except OSError:
        return []
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != LATENCY:
            continue
        for sample in family.samples:
            if sample.name == LATENCY + "_bucket":
                bound = float(sample.labels["le"])
                buckets.setdefault(sample.labels["projection"], []).append((bound, sample.value))
    found = []
    for projection, counts in sorted(buckets.items()):
        counts.sort()
        total = counts[-1][1] if counts else 0
        if not total:
            continue
        found.append({
            "projection": projection,
            "count": int(total),
            "p50": _quantile(counts, total, 0.5),
            "p99": _quantile(counts, total, 0.99),
        })  # fmt: skip
    return found


def _quantile(counts: list[tuple[float, float]], total: float, q: float) -> float | str:
    bound = next(b for b, n in counts if n >= q * total)
    return bound if math.isfinite(bound) else "Infinity"


def _plain(value: Any) -> Any:
    """``value`` as strict JSON takes it: a float that is not finite as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
