"""The experiment guard, in the projector process: every few seconds, each experiment that has
not ended is evaluated (``streams.guardrails.next_step``) against its treatment variant's
performance figures as just projected and its trades. A guardrail breach rolls it back with an
``ExperimentChanged`` by ``guardrail``, the breach as the reason, which the bridge applies at
once: every new signal then runs control. An experiment with ``auto_promote`` is also promoted
when its step is done, or rolled back when the treatment is found worse, by ``decision``. Each
change is made once: an ended experiment takes no more, and a promotion restarts the step."""

from __future__ import annotations

import collections
import logging
import threading
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from prometheus_client import Counter

from fillstream.errors import FillstreamError
from fillstream.settings import Settings
from projections.migrate import connect
from schemas.codec import default_codec
from schemas.events import ExperimentAction, ExperimentArm
from streams.experiment_log import ExperimentFollower, change
from streams.experiment_report import ArmTrade, sequential_test
from streams.experiment_stats import SequentialState
from streams.experiments import Experiment, ExperimentError
from streams.guardrails import Decision, NextStep, TreatmentFigures, breaches, next_step

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


def evaluate(
    conn: psycopg.Connection[Any],
    experiment: Experiment,
    at: datetime,
    sequential: SequentialState | None = None,
) -> NextStep:
    """The next step for ``experiment`` at ``at``: its guardrails against the treatment's figures,
    its trades since the step began, and the always-valid test over all its trades (computed
    here unless given)."""
    found = breaches(experiment, treatment_figures(conn, experiment))
    rows = conn.execute(
        "SELECT arm, exit_time, net_pnl FROM experiment_trades WHERE experiment_id = %s"
        " ORDER BY exit_time, trade_id",
        (experiment.spec.experiment_id,),
    ).fetchall()
    trades = [ArmTrade(arm=ExperimentArm(a), exit_time=t, net_pnl=n) for a, t, n in rows]
    if sequential is None:
        sequential = sequential_test(trades)
    step_trades = collections.Counter(
        t.arm.value for t in trades if t.exit_time >= experiment.step_started_at
    )
    return next_step(
        experiment,
        step_trades=step_trades,
        sequential_p=sequential.p_value,
        difference=sequential.difference,
        breached=found,
        at=at,
    )


def check_once(settings: Settings, follower: ExperimentFollower) -> list[str]:
    """Act on every experiment that has not ended: roll it back on a guardrail breach; with
    ``auto_promote``, also promote it, or roll it back when the treatment is found worse. The
    ids of those changed."""
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
    if not acting:
        return []
    changed = []
    with connect(settings) as conn:
        for experiment in acting:
            name = experiment.spec.experiment_id
            decided = evaluate(conn, experiment, datetime.now(UTC))
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
