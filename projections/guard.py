"""The experiment guard, in the projector process: every few seconds, each experiment that has
not ended and has guardrails is checked against its treatment variant's performance figures as
just projected (``streams.guardrails``); a breach rolls it back with an ``ExperimentChanged``
(actor ``guardrail``, the breach as the reason), which the bridge applies at once: every new
signal then runs control. A rollback is made once: an ended experiment takes no more changes."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from prometheus_client import Counter

from fillstream.errors import FillstreamError
from fillstream.settings import Settings
from projections.migrate import connect
from schemas.codec import default_codec
from schemas.events import ExperimentAction
from streams.experiment_log import ExperimentFollower, change
from streams.experiments import Experiment, ExperimentError
from streams.guardrails import TreatmentFigures, breaches

log = logging.getLogger("fillstream.projector")

INTERVAL_SECONDS = 5.0
ACTOR = "guardrail"

ROLLBACKS = Counter(
    "fillstream_experiment_guardrail_rollbacks_total",
    "Experiments rolled back because their treatment breached a guardrail.",
    ["experiment"],
)


def treatment_figures(
    conn: psycopg.Connection[Any], experiment: Experiment
) -> list[TreatmentFigures]:
    """The treatment variant's all-time drawdown and its net profit on each trading day since
    the experiment was configured (not the variant's whole history: a check costs the same
    however long it traded before), per live account (paper accounts risk nothing), of the
    newest performance definitions."""
    spec = experiment.spec
    rows = conn.execute(
        """
        WITH variant AS (
            SELECT * FROM performance
            WHERE scope = 'variant' AND strategy = %(strategy)s AND variant = %(variant)s
              AND (time_window = 'all_time'
                   OR (time_window = 'trading_day' AND window_key >= %(since)s))
              AND left(account, 6) <> 'PAPER:'
        )
        SELECT account, time_window, window_key, max_drawdown, net_profit FROM variant
        WHERE definitions_version = (SELECT max(definitions_version) FROM variant)
        """,
        {
            "strategy": spec.strategy,
            "variant": spec.treatment_variant,
            "since": experiment.configured_at.date().isoformat(),
        },
    ).fetchall()
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


def check_once(settings: Settings, follower: ExperimentFollower) -> list[str]:
    """Roll back every experiment whose guardrails are breached now; their ids."""
    guarded = [
        e
        for e in follower.experiments.by_id.values()
        if not e.ended and (e.spec.max_drawdown is not None or e.spec.daily_loss_limit is not None)
    ]
    if not guarded or not follower.loaded.is_set():
        return []
    rolled = []
    with connect(settings) as conn:
        for experiment in guarded:
            found = breaches(experiment, treatment_figures(conn, experiment))
            if not found:
                continue
            name = experiment.spec.experiment_id
            try:
                change(settings, name, ExperimentAction.ROLLED_BACK, actor=ACTOR,
                       reason="; ".join(found))  # fmt: skip
            except ExperimentError as e:  # ended meanwhile (by hand, or another guard)
                log.info("guardrail of %s: %s", name, e)
                continue
            ROLLBACKS.labels(name).inc()
            log.warning("experiment %s rolled back: %s", name, "; ".join(found))
            rolled.append(name)
    return rolled


def guard(settings: Settings, stop: threading.Event) -> None:
    """Check every ``INTERVAL_SECONDS`` until ``stop``; a failed check is logged and retried."""
    follower = ExperimentFollower(settings, default_codec(), "projector-experiments").start()
    try:
        while not stop.wait(INTERVAL_SECONDS):
            try:
                check_once(settings, follower)
            except (FillstreamError, psycopg.Error) as e:
                log.error("experiment guard: %s; retrying in %.0f s", e, INTERVAL_SECONDS)
    finally:
        follower.close()
