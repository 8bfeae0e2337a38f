"""What a period's report reads: the trades, alerts, availability and alert response of the
views (``domain.reports``' SQL), the phases, experiments and baselines of the control topics.
The one place a report's figures are gathered, for ``fillstream report``, ``fillstream
baseline`` and the notifier's scheduled reports alike; ``domain.reports.build`` computes them."""

from __future__ import annotations

from datetime import date

from core.control_log import read_events
from core.database import connect
from core.settings import Settings
from domain.baselines import Traded, period_bounds
from domain.experiments.guardrails import (
    STEP_TRADES_SQL,
    TREATMENT_SQL,
    TreatmentFigures,
    step_counts,
    step_parameters,
    treatment_parameters,
    treatment_rows,
)
from domain.reports import (
    ACCURACY_SQL,
    ALERTS_SQL,
    LAG_SQL,
    RESPONSE_SQL,
    TRADES_SQL,
    UPTIME_SQL,
    Period,
    Report,
    accuracy_row,
    alert_row,
    build,
    first_by_name,
    lag_row,
    parameters,
    response_row,
    running_at,
    traded,
)
from schemas.catalog import CONTROL_BASELINES, CONTROL_EXPERIMENTS, CONTROL_PHASES
from schemas.events import BaselineFrozen, ExperimentChanged, PhaseChanged


def baselines(settings: Settings) -> dict[str, BaselineFrozen]:
    """Every baseline by name (a name is frozen once: the first one stands)."""
    return first_by_name(read_events(settings, CONTROL_BASELINES, BaselineFrozen))


def period_trades(settings: Settings, first: date, last: date) -> list[Traded]:
    """The trades of the trading days ``[first, last]`` from the ``trades`` view."""
    start, end = period_bounds(first, last)
    with connect(settings) as conn:
        return [traded(row) for row in conn.execute(TRADES_SQL, parameters(start, end))]


def period_report(
    settings: Settings,
    period: Period,
    *,
    account: str | None = None,
    baseline: BaselineFrozen | None = None,
) -> Report:
    """``domain.reports.build`` over what the views and the control topics hold for
    ``period``; ``PeriodError`` for a period without a trading day."""
    start, end = period_bounds(period.first, period.last)
    trades = [t for t in period_trades(settings, period.first, period.last)
              if account is None or t.account == account]  # fmt: skip
    given = parameters(start, end)
    experiments = read_events(settings, CONTROL_EXPERIMENTS, ExperimentChanged)
    treatment: dict[str, list[TreatmentFigures]] = {}
    step_trades: dict[str, dict[str, int]] = {}
    with connect(settings) as conn:
        alerts = [alert_row(r) for r in conn.execute(ALERTS_SQL, given)]
        uptime = [tuple(r) for r in conn.execute(UPTIME_SQL, given)]
        responses = [response_row(r) for r in conn.execute(RESPONSE_SQL, given)]
        accuracy = [accuracy_row(r) for r in conn.execute(ACCURACY_SQL, given)]
        lag = [lag_row(r) for r in conn.execute(LAG_SQL, given)]
        for experiment in running_at(experiments, end):
            key = experiment.spec.experiment_id
            treatment[key] = treatment_rows(
                conn.execute(TREATMENT_SQL, treatment_parameters(experiment))
            )
            step_trades[key] = step_counts(
                conn.execute(STEP_TRADES_SQL, step_parameters(experiment, end))
            )
    before: list[Traded] = []
    if baseline is not None:
        before = period_trades(settings, date.fromisoformat(baseline.from_day),
                               date.fromisoformat(baseline.to_day))  # fmt: skip
    return build(
        period, trades,
        phases=read_events(settings, CONTROL_PHASES, PhaseChanged),
        experiments=experiments,
        alerts=alerts, uptime=uptime, responses=responses,
        start=start, end=end,
        baseline=baseline, baseline_trades=before,
        accuracy=accuracy, lag=lag, treatment=treatment, step_trades=step_trades,
    )  # fmt: skip
