"""The daily summary and the weekly review: a period's figures, from what the log and the views
hold, as one structure every reader renders (the CLI, the scheduled report). Pure.

The period is a range of trading days (``domain.performance.figures.trading_day``): a day, or the
five of an ISO week. Its parts follow the roadmap's templates:

- **completed**: the trades (figures per account and strategy, ``domain.baselines.figures``),
  phases started or rolled back, experiment changes;
- **issues**: the alerts raised in the period and how they ended;
- **health**: each service's availability over the period's days (the ``uptime_daily`` view),
  the alert response per channel and day (``alert_response_daily``), and the critical failures:
  the critical alerts raised and how long each took to resolve;
- **against the baseline**: ``domain.baselines.compare`` per account, when a baseline is named;
- **health** also holds each projection's latest data accuracy (the nightly verification,
  ``ACCURACY_SQL``) and each service's consumer lag over the period (``LAG_SQL``);
- **next**: the experiments still running, each with its step, its trades and days at the step
  against the minimums, whether it is due for a decision (``next_step``), and how much of each
  guardrail its treatment has used (those at 75 % or more are near their limit).

The series behind the plots (equity and drawdown by trade, net P&L by day and by strategy) are
computed here too, so a plot shows the same numbers as the tables.

What to read is here as well, for every reader to run with its own connection: the SQL over the
views (``TRADES_SQL``, ``ALERTS_SQL``, ``UPTIME_SQL``, ``RESPONSE_SQL``) and what their rows
become (``traded``, ``alert_row``, ``response_row``). The CLI, the notifier and the read API
cannot import each other; they share this module.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.baselines import Comparison, Traded, compare, figures
from domain.experiments.guardrails import (
    Decision,
    GuardrailUse,
    NextStep,
    TreatmentFigures,
    breaches,
    next_step,
    usage,
)
from domain.experiments.model import Experiment, fold
from domain.paper import paper_account
from domain.performance.figures import TradeResult
from domain.performance.snapshots import money
from schemas.events import (
    BaselineFigures,
    BaselineFrozen,
    ExperimentChanged,
    MetricScope,
    PhaseChanged,
)

TRADES_SQL = """
SELECT t.trade_id, t.revision, t.account, t.strategy, t.variant, t.exit_time, t.net_pnl,
       t.gross_pnl, t.mae, t.mfe, t.risk, t.currency, s.confidence
FROM trades t
LEFT JOIN LATERAL (SELECT confidence FROM signals WHERE signals.signal_id = t.signal_id
                   LIMIT 1) s ON true
WHERE t.exit_time >= %(start)s AND t.exit_time < %(end)s
ORDER BY t.exit_time, t.trade_id
"""
"""The trades of ``[start, end)`` (latest revisions, not voided), with their signals'
confidence: rows for ``traded``."""

ALERTS_SQL = """
SELECT rule, key, severity, raised_at, resolved_at, summary, resolution FROM alert_history
WHERE raised_at >= %(start)s AND raised_at < %(end)s ORDER BY raised_at, rule, key
"""
"""The alerts raised in ``[start, end)``: rows for ``alert_row``."""

UPTIME_SQL = """
SELECT service, day, up_seconds, observed_seconds FROM uptime_daily
WHERE day >= %(first)s AND day <= %(last)s
"""
"""Availability rows of the UTC days ``[first, last]``: ``build``'s ``uptime``."""

RESPONSE_SQL = """
SELECT channel, day, deliveries, p50_seconds, p99_seconds, meets_target FROM alert_response_daily
WHERE day >= %(first)s AND day <= %(last)s ORDER BY day, channel
"""
"""Alert response rows of the UTC days ``[first, last]``: rows for ``response_row``."""


ACCURACY_SQL = """
SELECT DISTINCT ON (projection) projection, accuracy, rows, ts_event FROM (
    SELECT split_part(f.key, '|', 2) AS projection, f.value::float8 AS accuracy,
           (c.figures ->> ('accuracy_rows|' || split_part(f.key, '|', 2)))::float8 AS rows,
           c.ts_event
    FROM service_checks c CROSS JOIN LATERAL jsonb_each_text(c.figures) AS f(key, value)
    WHERE c.service = 'accuracy' AND f.key LIKE 'accuracy|%%' AND c.ts_event < %(end)s
) runs
ORDER BY projection, ts_event DESC
"""
"""Each projection's latest data accuracy recorded before the period's end: rows for
``accuracy_row``."""

LAG_SQL = """
SELECT service, count(*), max((figures ->> 'lag_records')::float8),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY (figures ->> 'lag_records')::float8)
FROM service_checks
WHERE ts_event >= %(start)s AND ts_event < %(end)s AND figures ? 'lag_records'
GROUP BY service ORDER BY service
"""
"""Each service's consumer lag (records behind) over the period's health checks: rows for
``lag_row``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    kind: str
    """``daily`` or ``weekly``."""
    first: date
    last: date

    @property
    def title(self) -> str:
        if self.kind == "daily":
            return f"Daily summary, {self.first:%A %d %B %Y}"
        year, week, _ = self.first.isocalendar()
        return f"Weekly review, {year}-W{week:02d} ({self.first} to {self.last})"


def day_period(day: date) -> Period:
    return Period(kind="daily", first=day, last=day)


def week_period(text: str) -> Period:
    """``2025-W20``: its Monday to its Friday. ``ValueError`` naming the form otherwise."""
    try:
        monday = datetime.strptime(f"{text}-1", "%G-W%V-%u").date()
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO week (YYYY-Www, e.g. 2025-W20)") from None
    return Period(kind="weekly", first=monday, last=monday + timedelta(days=4))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRow:
    rule: str
    key: str
    severity: str
    raised_at: datetime
    resolved_at: datetime | None
    summary: str
    resolution: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Availability:
    service: str
    availability: float
    """Up seconds over observed seconds, over the period's days."""
    days: int
    meets_target: bool
    """At least 99.5 %."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """A row of the ``alert_response_daily`` view: cause to acknowledged delivery."""

    channel: str
    day: date
    deliveries: int
    p50_seconds: float
    p99_seconds: float
    meets_target: bool
    """p99 under 30 s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Accuracy:
    """A projection's latest data accuracy: its share of rows identical to a rebuild's."""

    projection: str
    accuracy: float
    rows: float | None
    at: datetime
    meets_target: bool
    """At least 99.9 %."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Lag:
    """A service's consumer lag over the period's health checks, in records."""

    service: str
    checks: int
    worst: float
    median: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Upcoming:
    """A running experiment, as the period leaves it."""

    experiment_id: str
    strategy: str
    treatment_percent: int
    days_at_step: float
    min_days: int
    control_trades: int
    treatment_trades: int
    min_trades: int
    next: NextStep
    """Its decision by its minimums and guardrails (the sequential test is the guard's)."""
    guardrails: tuple[GuardrailUse, ...] = ()

    @property
    def due(self) -> bool:
        """Due for a decision: ready to promote, or to roll back."""
        return self.next.decision in (Decision.PROMOTE, Decision.ROLL_BACK)

    @property
    def near(self) -> tuple[GuardrailUse, ...]:
        return tuple(g for g in self.guardrails if g.near)


@dataclass(frozen=True, slots=True, kw_only=True)
class Critical:
    """The critical failures: critical alerts raised in the period, and their time to resolve."""

    raised: int = 0
    resolved: int = 0
    mean_to_resolve: timedelta | None = None
    longest_to_resolve: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """What the plots draw."""

    equity: tuple[tuple[datetime, Decimal], ...] = ()
    """Cumulative net P&L after each trade, in exit order."""
    drawdown: tuple[tuple[datetime, Decimal], ...] = ()
    """How far below its high-water mark (from 0) the equity is after each trade."""
    daily: tuple[tuple[date, Decimal], ...] = ()
    by_strategy: tuple[tuple[str, Decimal], ...] = ()
    calibration: tuple[tuple[float, float, int], ...] = ()
    """The reliability diagram of the signals' confidence: per tenth of confidence holding any
    trade, the mean confidence, the share won, the trades."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    period: Period
    trades: int
    """The live accounts' trades (paper ones apart: ``paper_trades``)."""
    net_profit: Decimal
    paper_trades: int = 0
    """Trades of the paper accounts (``PAPER:…``: shadow fills of signals, never money)."""
    paper_net_profit: Decimal = Decimal(0)
    scopes: tuple[BaselineFigures, ...]
    phases: tuple[PhaseChanged, ...]
    experiments: tuple[ExperimentChanged, ...]
    alerts: tuple[AlertRow, ...]
    availability: tuple[Availability, ...]
    responses: tuple[Response, ...] = ()
    critical: Critical = Critical()
    running: tuple[str, ...]
    """Experiments not ended by the period's end (those of ``upcoming``)."""
    baseline: BaselineFrozen | None = None
    against: dict[str, tuple[Comparison, ...]] = field(default_factory=dict)
    """Per account of the baseline: the comparison."""
    series: Series = Series()
    accuracy: tuple[Accuracy, ...] = ()
    lag: tuple[Lag, ...] = ()
    upcoming: tuple[Upcoming, ...] = ()

    @property
    def pipeline(self) -> Availability | None:
        """The whole pipeline's availability: its least available service's (as the
        dashboard's monitor has it), None without health checks."""
        return min(self.availability, key=lambda a: a.availability, default=None)


def build(
    period: Period,
    trades: Sequence[Traded],
    *,
    phases: Sequence[PhaseChanged] = (),
    experiments: Sequence[ExperimentChanged] = (),
    alerts: Sequence[AlertRow] = (),
    uptime: Sequence[tuple[str, date, Decimal, Decimal]] = (),
    responses: Sequence[Response] = (),
    start: datetime,
    end: datetime,
    baseline: BaselineFrozen | None = None,
    baseline_trades: Sequence[Traded] = (),
    accuracy: Sequence[Accuracy] = (),
    lag: Sequence[Lag] = (),
    treatment: Mapping[str, Sequence[TreatmentFigures]] | None = None,
    step_trades: Mapping[str, Mapping[str, int]] | None = None,
) -> Report:
    """The report of ``period`` (its instants ``[start, end)``): ``trades`` in exit order;
    ``phases`` and ``experiments``, the whole control logs; ``alerts``, those raised in the
    period; ``uptime``, ``(service, day, up_seconds, observed_seconds)`` rows of its days;
    ``treatment`` and ``step_trades``, per experiment running at the end (``running_at``), its
    treatment's figures and its arms' trades at its step."""
    scopes = figures(trades)
    ahead = upcoming(experiments, end, treatment or {}, step_trades or {})
    by_account = [f for f in scopes if f.scope is MetricScope.ACCOUNT]
    accounts = [f for f in by_account if not paper_account(f.account)]
    shadow = [f for f in by_account if paper_account(f.account)]
    against: dict[str, tuple[Comparison, ...]] = {}
    if baseline is not None:
        for frozen in baseline.figures:
            if frozen.scope is MetricScope.ACCOUNT:
                before = [t for t in baseline_trades if t.account == frozen.scope_key]
                now = [t for t in trades if t.account == frozen.scope_key]
                against[frozen.scope_key] = compare(before, now)
    return Report(
        period=period,
        trades=sum(f.trades for f in accounts),
        net_profit=money(sum((f.net_profit for f in accounts), Decimal(0))),
        paper_trades=sum(f.trades for f in shadow),
        paper_net_profit=money(sum((f.net_profit for f in shadow), Decimal(0))),
        scopes=scopes,
        phases=tuple(p for p in phases if start <= p.envelope.ts_event < end),
        experiments=tuple(e for e in experiments if start <= e.envelope.ts_event < end),
        alerts=tuple(alerts),
        availability=_availability(uptime),
        responses=tuple(responses),
        critical=critical(alerts),
        running=tuple(u.experiment_id for u in ahead),
        baseline=baseline,
        against=against,
        series=series([t for t in trades if not paper_account(t.account)]),
        accuracy=tuple(accuracy),
        lag=tuple(lag),
        upcoming=ahead,
    )


def running_at(experiments: Sequence[ExperimentChanged], end: datetime) -> list[Experiment]:
    """The experiments not ended by ``end``, as the control log left them then."""
    folded = fold(e for e in experiments if e.envelope.ts_event < end)
    return [x for _, x in sorted(folded.by_id.items()) if not x.ended]


def upcoming(
    experiments: Sequence[ExperimentChanged],
    end: datetime,
    treatment: Mapping[str, Sequence[TreatmentFigures]],
    step_trades: Mapping[str, Mapping[str, int]],
) -> tuple[Upcoming, ...]:
    found = []
    for experiment in running_at(experiments, end):
        key, spec = experiment.spec.experiment_id, experiment.spec
        figures = treatment.get(key, ())
        counts = step_trades.get(key, {})
        found.append(Upcoming(
            experiment_id=key, strategy=spec.strategy,
            treatment_percent=experiment.treatment_percent,
            days_at_step=max(0.0, (end - experiment.step_started_at).total_seconds() / 86_400),
            min_days=spec.min_days_per_step, control_trades=counts.get("control", 0),
            treatment_trades=counts.get("treatment", 0), min_trades=spec.min_trades_per_step,
            next=next_step(experiment, step_trades=counts, sequential_p=1.0, difference=0.0,
                           breached=breaches(experiment, figures), at=end),
            guardrails=tuple(usage(experiment, figures)),
        ))  # fmt: skip
    return tuple(found)


def critical(alerts: Sequence[AlertRow]) -> Critical:
    """The critical alerts among ``alerts`` and their times to resolve."""
    raised = [a for a in alerts if a.severity == "critical"]
    times = [a.resolved_at - a.raised_at for a in raised if a.resolved_at is not None]
    return Critical(
        raised=len(raised),
        resolved=len(times),
        mean_to_resolve=sum(times, timedelta()) / len(times) if times else None,
        longest_to_resolve=max(times) if times else None,
    )


def series(trades: Sequence[Traded]) -> Series:
    equity: list[tuple[datetime, Decimal]] = []
    drawdown: list[tuple[datetime, Decimal]] = []
    daily: dict[date, Decimal] = {}
    by_strategy: dict[str, Decimal] = {}
    total = high = Decimal(0)
    for t in trades:
        total += t.result.net
        high = max(high, total)
        equity.append((t.result.exit_time, total))
        drawdown.append((t.result.exit_time, high - total))
        day = t.result.trading_day
        daily[day] = daily.get(day, Decimal(0)) + t.result.net
        name = t.strategy or "(none)"
        by_strategy[name] = by_strategy.get(name, Decimal(0)) + t.result.net
    return Series(
        equity=tuple(equity),
        drawdown=tuple(drawdown),
        daily=tuple(sorted(daily.items())),
        by_strategy=tuple(sorted(by_strategy.items())),
        calibration=reliability(trades),
    )


def reliability(trades: Sequence[Traded], bins: int = 10) -> tuple[tuple[float, float, int], ...]:
    """Per bin of confidence (``[k/bins, (k+1)/bins)``, the last one closed) holding any trade:
    the mean confidence, the share of those trades won, how many."""
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for t in trades:
        if t.confidence is not None:
            k = min(int(t.confidence * bins), bins - 1)
            grouped.setdefault(k, []).append((t.confidence, t.result.net > 0))
    return tuple(
        (sum(c for c, _ in items) / len(items), sum(1 for _, won in items if won) / len(items),
         len(items))
        for _, items in sorted(grouped.items())
    )  # fmt: skip


def _availability(rows: Sequence[tuple[str, date, Decimal, Decimal]]) -> tuple[Availability, ...]:
    up: dict[str, Decimal] = {}
    observed: dict[str, Decimal] = {}
    days: dict[str, set[date]] = {}
    for service, day, up_seconds, observed_seconds in rows:
        up[service] = up.get(service, Decimal(0)) + up_seconds
        observed[service] = observed.get(service, Decimal(0)) + observed_seconds
        days.setdefault(service, set()).add(day)
    out = []
    for service in sorted(up):
        share = float(up[service] / observed[service]) if observed[service] else 0.0
        out.append(Availability(service=service, availability=share,
                                days=len(days[service]), meets_target=share >= 0.995))  # fmt: skip
    return tuple(out)


def parameters(start: datetime, end: datetime) -> dict[str, object]:
    """The statements' parameters for the instants ``[start, end)``."""
    return {"start": start, "end": end, "first": start.astimezone(UTC).date(),
            "last": end.astimezone(UTC).date()}  # fmt: skip


def traded(row: Sequence[Any]) -> Traded:
    """A row of ``TRADES_SQL``."""
    (trade_id, revision, account, strategy, variant, exit_time, net, gross, mae, mfe, risk,
     currency, confidence) = row  # fmt: skip
    return Traded(
        result=TradeResult(exit_time=exit_time, net=net, gross=gross, mae=mae, mfe=mfe,
                           risk=risk, trade_id=trade_id, currency=currency),
        revision=revision, account=account, strategy=strategy, variant=variant,
        confidence=confidence,
    )  # fmt: skip


def accuracy_row(row: Sequence[Any]) -> Accuracy:
    """A row of ``ACCURACY_SQL``."""
    projection, share, rows, at = row
    return Accuracy(projection=projection, accuracy=share, rows=rows, at=at,
                    meets_target=share >= 0.999)  # fmt: skip


def lag_row(row: Sequence[Any]) -> Lag:
    """A row of ``LAG_SQL``."""
    service, checks, worst, median = row
    return Lag(service=service, checks=checks, worst=worst, median=median)


def alert_row(row: Sequence[Any]) -> AlertRow:
    """A row of ``ALERTS_SQL``."""
    rule, key, severity, raised_at, resolved_at, summary, resolution = row
    return AlertRow(
        rule=rule, key=key, severity=severity, raised_at=raised_at, resolved_at=resolved_at,
        summary=summary or "", resolution=resolution,
    )  # fmt: skip


def response_row(row: Sequence[Any]) -> Response:
    """A row of ``RESPONSE_SQL``."""
    channel, day, deliveries, p50, p99, meets = row
    return Response(channel=channel, day=day, deliveries=deliveries, p50_seconds=p50,
                    p99_seconds=p99, meets_target=meets)  # fmt: skip


def first_by_name(frozen: Sequence[BaselineFrozen]) -> dict[str, BaselineFrozen]:
    """Baselines by name, in log order: a name is frozen once, the first one stands."""
    found: dict[str, BaselineFrozen] = {}
    for event in frozen:
        found.setdefault(event.name, event)
    return found


def signature(secret: str, kind: str, first: date) -> str:
    """What signs the address of a scheduled report (``/reports/daily/2026-12-07?sig=…``) with
    the read API's token: the address opens that report alone, without the token, from the
    e-mail or chat message that carries it."""
    text = f"report|{kind}|{first.isoformat()}".encode()
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()[:32]


def headline(report: Report) -> tuple[tuple[str, str], ...]:
    """The figures a glance at a report needs, as text: trades, net P&L, win rate, alerts."""
    accounts = [f for f in report.scopes if f.scope is MetricScope.ACCOUNT
                and not paper_account(f.account)]  # fmt: skip
    won = sum(f.wins for f in accounts)
    rate = f"{won / report.trades:.1%}" if report.trades else "n/a"
    critical = f" ({report.critical.raised} critical)" if report.critical.raised else ""
    return (
        ("Trades", str(report.trades)),
        ("Net P&L", f"{report.net_profit:,.2f}"),
        ("Win rate", rate),
        ("Alerts", f"{len(report.alerts)}{critical}"),
    )
