"""Alert rules evaluated in event time: performance snapshots, health checks and position
drifts in, ``AlertChanged`` (raised, resolved) out.

An ``AlertBook`` holds what one source partition's alerts need between events: which are
raised (since when) and what the health rules remember from one check to the next (an error
count, since when recovery has not advanced). Every input of one alert's key arrives on one
partition, in order (a snapshot's key names its scope and window, a check's its service
instance, a drift's its account and instrument), so a book decides from its partition alone,
and a replay decides the same. An alert's identity is its rule, its key and the event time it
was raised at; the notifier delivers each identity once, however often a rewind derives it
again.

Muted by a session (``Rule.muted_at``), a rule raises nothing: a condition that still holds at
the first event after the session raises then. Resolving is never muted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.alerts.rules import Rule, RuleSet, RuleType
from schemas.events import (
    AlertChanged,
    AlertState,
    Envelope,
    EventId,
    MetricWindow,
    PerformanceSnapshot,
    PositionDrift,
    ServiceChecked,
    Severity,
    Source,
)

PRODUCER = "fillstream-alerts/0.1.0"

Checked = PerformanceSnapshot | ServiceChecked | PositionDrift
"""What the rules read."""

_WINDOWS = {
    RuleType.DRAWDOWN: MetricWindow.ALL_TIME,
    RuleType.DAILY_LOSS: MetricWindow.TRADING_DAY,
    RuleType.LOSS_STREAK: MetricWindow.ALL_TIME,
    RuleType.WIN_RATE: MetricWindow.LAST_TRADES,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found for one key at one event: whether it holds, and the words for it."""

    key: str
    holds: bool
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)


HISTORY = "history"
"""The label of an alert raised on figures whose latest trade was imported (``import``): the
notifier records it without sending it; the same condition on live figures raises it anew."""


@dataclass(slots=True)
class Raised:
    raised_at: datetime
    labels: dict[str, str]


@dataclass(slots=True)
class AlertBook:
    """The alerts of one source partition; see the module docstring."""

    raised: dict[tuple[str, str], Raised] = field(default_factory=dict)
    memory: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Per rule and key: what a health rule keeps between checks (JSON-safe values)."""
    changed: set[tuple[str, str]] = field(default_factory=set)
    """Rule and key of what changed since the stage last wrote its changelog."""

    def apply(self, rules: RuleSet, event: Checked) -> list[AlertChanged]:
        """Evaluate every rule that reads ``event``; the alerts raised and resolved by it."""
        changes = list(self._orphans(rules, event))
        for rule in rules.rules:
            if isinstance(event, PerformanceSnapshot):
                findings = list(_performance(rule, event))
                if rule.type is RuleType.DAILY_LOSS and event.window is MetricWindow.TRADING_DAY:
                    changes.extend(self._days_ended(rule, event))
            elif isinstance(event, PositionDrift):
                findings = list(_drift(rule, event))
            else:
                findings = list(self._health(rule, event))
            for finding in findings:
                changes.extend(self._decide(rule, finding, event))
        return changes

    def _decide(self, rule: Rule, finding: Finding, event: Checked) -> list[AlertChanged]:
        at = event.envelope.ts_event
        raised = self.raised.get((rule.name, finding.key))
        history = event.envelope.source is Source.IMPORT
        if (finding.holds and raised is not None and raised.labels.get(HISTORY) == "import"
                and not history and not rule.muted_at(at)):  # fmt: skip
            # raised on imported history (not sent), holding on live figures now: raised anew,
            # to be told
            del self.raised[(rule.name, finding.key)]
            again = f"{finding.key}: raised again on live figures"
            ended = _alert(rule, finding.key, AlertState.RESOLVED, raised.raised_at, again,
                           raised.labels, event)  # fmt: skip
            return [ended, *self._decide(rule, finding, event)]
        if finding.holds and raised is None and not rule.muted_at(at):
            labels = _labels(rule, finding) | ({HISTORY: "import"} if history else {})
            self.raised[(rule.name, finding.key)] = Raised(at, labels)
            self.changed.add((rule.name, finding.key))
            summary = finding.summary
            return [_alert(rule, finding.key, AlertState.RAISED, at, summary, labels, event)]
        if not finding.holds and raised is not None:
            del self.raised[(rule.name, finding.key)]
            self.changed.add((rule.name, finding.key))
            labels = _labels(rule, finding)
            return [_alert(
                rule, finding.key, AlertState.RESOLVED, raised.raised_at, finding.summary, labels,
                event,
            )]  # fmt: skip
        return []

    def _days_ended(self, rule: Rule, event: PerformanceSnapshot) -> Iterator[AlertChanged]:
        """Daily-loss alerts of days before the snapshot's: their day has ended."""
        for (name, key), raised in list(self.raised.items()):
            day = raised.labels.get("day", "")
            if name == rule.name and day and day < event.window_key:
                del self.raised[(name, key)]
                self.changed.add((name, key))
                summary = f"{key}: the trading day {day} has ended"
                yield _alert(
                    rule, key, AlertState.RESOLVED, raised.raised_at, summary, raised.labels, event
                )

    def _orphans(self, rules: RuleSet, event: Checked) -> Iterator[AlertChanged]:
        """Alerts of rules no longer in the file (or changed in type) are resolved."""
        kinds = {rule.name: rule for rule in rules.rules}
        for (name, key), raised in list(self.raised.items()):
            rule = kinds.get(name)
            if rule is not None and raised.labels.get("type") == rule.type.value:
                continue
            del self.raised[(name, key)]
            self.changed.add((name, key))
            gone = Rule(
                name=name, type=RuleType(raised.labels.get("type", "unhealthy")),
                severity=rule.severity if rule else _severity(raised.labels),
            )  # fmt: skip
            summary = f"{key}: the rule {name} was removed or changed"
            yield _alert(
                gone, key, AlertState.RESOLVED, raised.raised_at, summary, raised.labels, event
            )

    def _health(self, rule: Rule, check: ServiceChecked) -> Iterator[Finding]:
        if not rule.health or (rule.services and check.service not in rule.services):
            return
        at = check.envelope.ts_event
        instance = f"service={check.service} instance={check.instance}"
        figures = check.figures
        match rule.type:
            case RuleType.FEED_SILENT:
                limit = rule.parameters["seconds"]
                for connection, age in _per(figures, "feed_age_seconds"):
                    yield Finding(
                        f"connection={connection}",
                        age > limit,
                        f"NinjaTrader connection {connection}: last heartbeat {age:.0f} s "
                        f"ago (limit {limit:g} s)",
                        {"connection": connection, "value": f"{age:.0f}", "limit": f"{limit:g}"},
                    )
            case RuleType.CONSUMER_LAG if "lag_records" in figures:
                lag, limit = figures["lag_records"], rule.parameters["records"]
                yield Finding(
                    instance,
                    lag > limit,
                    f"{check.service} {check.instance}: {lag:.0f} records behind (limit {limit})",
                    _of(check, value=f"{lag:.0f}", limit=str(limit)),
                )
            case RuleType.ERROR_RATE if "errors_total" in figures:
                rate = self._rate(rule, instance, check)
                limit = rule.parameters["per_minute"]
                yield Finding(
                    instance,
                    rate > limit,
                    f"{check.service} {check.instance}: {rate:.1f} errors a minute (limit {limit})",
                    _of(check, value=f"{rate:.1f}", limit=str(limit)),
                )
            case RuleType.REBUILD_FAILED:
                for projection, failed in _per(figures, "rebuild_failed"):
                    yield Finding(
                        f"projection={projection}",
                        failed >= 1,
                        f"rebuild of projection {projection} "
                        + ("failed" if failed >= 1 else "succeeded"),
                        {"projection": projection},
                    )
            case RuleType.ACCURACY:
                least = rule.parameters["min"]
                for projection, share in _per(figures, "accuracy"):
                    yield Finding(
                        f"projection={projection}",
                        share < least,
                        f"data accuracy of {projection}: {share:.4%} of rows identical to a "
                        f"rebuild's (at least {least:.1%})",
                        {"projection": projection, "value": f"{share:.6f}", "limit": f"{least:g}"},
                    )
            case RuleType.RECOVERY_STALL if "recovery_remaining_records" in figures:
                remaining = figures["recovery_remaining_records"]
                stalled = self._stalled(rule, instance, remaining, at)
                limit = rule.parameters["seconds"]
                yield Finding(
                    instance,
                    stalled >= limit,
                    f"{check.service} {check.instance}: state recovery stalled for "
                    f"{stalled:.0f} s with {remaining:.0f} records to go (limit {limit:g} s)"
                    if remaining
                    else f"{check.service} {check.instance}: state recovery finished",
                    _of(check, value=f"{remaining:.0f}", limit=f"{limit:g}"),
                )
            case RuleType.STAGE_STALL:
                limit = rule.parameters["seconds"]
                for stage, seconds in _per(figures, "stalled_seconds"):
                    yield Finding(
                        f"{instance} stage={stage}",
                        seconds >= limit,
                        f"{check.service} {check.instance}: stage {stage} "
                        + (
                            f"has made no progress for {seconds:.0f} s while records wait "
                            f"(limit {limit:g} s)"
                            if seconds
                            else "progresses"
                        ),
                        _of(check, stage=stage, value=f"{seconds:.0f}", limit=f"{limit:g}"),
                    )
            case RuleType.UNHEALTHY:
                failing = sorted(name for name, ok in check.checks.items() if not ok)
                stopping = dict(check.checks) == {"running": False}  # a clean stop's last check
                since = self._since(rule, instance, not check.healthy and not stopping, check)
                limit = rule.parameters["seconds"]
                yield Finding(
                    instance,
                    since is not None and (at - since).total_seconds() >= limit,
                    f"{check.service} {check.instance}: "
                    + (
                        "stopped"
                        if stopping
                        else f"failing {', '.join(failing)}"
                        if failing
                        else "healthy"
                    ),
                    _of(check, value=", ".join(failing), limit=f"{limit:g}"),
                )

    def _rate(self, rule: Rule, instance: str, check: ServiceChecked) -> float:
        """Errors a minute since the instance's previous check (since its start, at the first
        check or after a restart)."""
        at, errors = check.envelope.ts_event, check.figures["errors_total"]
        started = check.started_at.isoformat()
        before = self._remember(
            rule, instance, {"errors": errors, "at": at.isoformat(), "started": started}
        )
        if before and before["started"] == started and before["errors"] <= errors:
            elapsed = at - datetime.fromisoformat(before["at"])
            errors -= before["errors"]
        else:
            elapsed = at - check.started_at
        return errors / max(elapsed.total_seconds() / 60, 1 / 60)

    def _stalled(self, rule: Rule, instance: str, remaining: float, at: datetime) -> float:
        """Seconds recovery has gone without the remaining records falling."""
        before = self.memory.get((rule.name, instance))
        if remaining <= 0:
            self._remember(rule, instance, None)
            return 0.0
        if before is None or remaining < before["remaining"]:
            self._remember(rule, instance, {"remaining": remaining, "since": at.isoformat()})
            return 0.0
        return (at - datetime.fromisoformat(before["since"])).total_seconds()

    def _since(
        self, rule: Rule, instance: str, failing: bool, check: ServiceChecked
    ) -> datetime | None:
        """Since when the instance has been failing in this run of its process (a restarted
        one starts afresh), or None when it is not."""
        at, started = check.envelope.ts_event, check.started_at.isoformat()
        before = self.memory.get((rule.name, instance))
        if not failing:
            self._remember(rule, instance, None)
            return None
        if before is None or before.get("started") != started:
            self._remember(rule, instance, {"since": at.isoformat(), "started": started})
            return at
        return datetime.fromisoformat(before["since"])

    def _remember(
        self, rule: Rule, key: str, value: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Keep ``value`` for the rule's key (None forgets); what was kept before."""
        before = self.memory.pop((rule.name, key), None)
        if value is not None:
            self.memory[(rule.name, key)] = value
        if before != value:
            self.changed.add((rule.name, key))
        return before


def _performance(rule: Rule, s: PerformanceSnapshot) -> Iterator[Finding]:
    if not rule.performance or s.scope is not rule.scope or s.window is not _WINDOWS[rule.type]:
        return
    if rule.accounts and s.account not in rule.accounts:
        return
    key = f"{s.scope.value}={s.scope_key}"
    currency = s.currency or ""
    parts = {"account": s.account, "scope": s.scope.value, "scope_key": s.scope_key}
    match rule.type:
        case RuleType.DRAWDOWN:
            value, limit = s.current_drawdown, rule.parameters["limit"]
            yield Finding(
                key,
                value > limit,
                f"{key}: drawdown {_money(value)} {currency} (limit {_money(limit)})",
                parts | {"value": str(value), "limit": str(limit), "currency": currency},
            )
        case RuleType.DAILY_LOSS:
            value, limit = s.net_profit, rule.parameters["limit"]
            yield Finding(
                f"{key} day={s.window_key}",
                value <= -limit,
                f"{key}: net {_money(value)} {currency} on {s.window_key} "
                f"(daily loss limit {_money(limit)})",
                parts | {"day": s.window_key, "value": str(value), "limit": str(limit),
                         "currency": currency},
            )  # fmt: skip
        case RuleType.LOSS_STREAK:
            streak: int = getattr(s, "current_loss_streak", 0)
            count = rule.parameters["count"]
            yield Finding(
                key,
                streak >= count,
                f"{key}: {streak} losing trades in a row (limit {count})",
                parts | {"value": str(streak), "limit": str(count)},
            )
        case RuleType.WIN_RATE:
            baseline, drop = rule.parameters["baseline"], rule.parameters["drop"]
            enough = s.trades >= rule.parameters["min_trades"] and s.win_rate is not None
            rate = s.win_rate or 0.0
            yield Finding(
                key,
                enough and rate < baseline - drop,
                f"{key}: win rate {rate:.0%} over the last {s.trades} trades "
                f"(baseline {baseline:.0%}, alert below {baseline - drop:.0%})",
                parts | {"value": f"{rate:.4f}", "limit": f"{baseline - drop:.4f}"},
            )


def _drift(rule: Rule, drift: PositionDrift) -> Iterator[Finding]:
    """A ``position_drift`` rule's finding: it holds while the drift is not resolved."""
    if not rule.reconciliation or (rule.accounts and drift.account not in rule.accounts):
        return
    key = f"account={drift.account} instrument={drift.instrument}"
    since = drift.since.isoformat()
    yield Finding(
        key,
        not drift.resolved,
        f"{drift.account} {drift.instrument}: NinjaTrader reports {_position(drift.reported)}, "
        + (
            f"agreeing with the derived position again (they differed since {since})"
            if drift.resolved
            else f"fillstream derives {_position(drift.derived)} (since {since})"
        ),
        {
            "account": drift.account,
            "instrument": drift.instrument,
            "reported": str(drift.reported),
            "derived": str(drift.derived),
            "value": str(drift.reported - drift.derived),
            "since": since,
        },
    )


def _position(quantity: int) -> str:
    """A signed position in words: ``2 long``, ``1 short``, ``flat``."""
    if quantity > 0:
        return f"{quantity} long"
    if quantity < 0:
        return f"{-quantity} short"
    return "flat"


def _alert(
    rule: Rule,
    key: str,
    state: AlertState,
    raised_at: datetime,
    summary: str,
    labels: Mapping[str, str],
    cause: Checked,
) -> AlertChanged:
    return AlertChanged(
        envelope=Envelope(
            event_id=EventId(f"{rule.name}|{key}|{raised_at.isoformat()}|{state.value}"),
            ts_event=cause.envelope.ts_event,
            ts_ingested=cause.envelope.ts_ingested,
            # figures whose latest trade came from a Trades export are history's
            source=Source.IMPORT if cause.envelope.source is Source.IMPORT else Source.UNKNOWN,
            producer=PRODUCER,
            causation_ids=(cause.envelope.event_id,),
        ),
        rule=rule.name,
        key=key,
        state=state,
        severity=rule.severity,
        summary=summary,
        labels=dict(labels),
        raised_at=raised_at,
    )


def _labels(rule: Rule, finding: Finding) -> dict[str, str]:
    return {
        **rule.labels,
        **finding.labels,
        "rule": rule.name,
        "type": rule.type.value,
        "severity": rule.severity.value,
    }


def _severity(labels: Mapping[str, str]) -> Severity:
    try:
        return Severity(labels.get("severity", "unknown"))
    except ValueError:
        return Severity.UNKNOWN


def _per(figures: Mapping[str, float], prefix: str) -> Iterator[tuple[str, float]]:
    """The figures named ``<prefix>|<what>`` (one per connection, projection or stage) as
    ``(what, value)``, in name order."""
    for name, value in sorted(figures.items()):
        if name.startswith(f"{prefix}|"):
            yield name.partition("|")[2], value


def _of(check: ServiceChecked, **values: str) -> dict[str, str]:
    return {"service": check.service, "instance": check.instance, **values}


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"
