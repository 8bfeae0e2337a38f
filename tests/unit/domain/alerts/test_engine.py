"""The alert rule engine: each rule type's raise and resolve, sessions, and replay safety."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.alerts.engine import AlertBook
from domain.alerts.rules import RuleSet, parse_rules
from schemas.codec import default_codec
from schemas.events import (
    AlertChanged,
    AlertState,
    Envelope,
    EventId,
    MetricScope,
    MetricWindow,
    PerformanceSnapshot,
    ServiceChecked,
    Severity,
    Source,
)
from streams.runtime.deriver import Batch, Record
from streams.stages.alerts import AlertOnHealth, AlertOnPerformance, _kept

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Chicago
_ids = itertools.count(1)


def envelope(at: datetime) -> Envelope:
    n = next(_ids)
    return Envelope(event_id=EventId(f"evt-{n}"), ts_event=at, ts_ingested=at, producer="tests")


def snapshot(
    at: datetime = T0,
    *,
    window: MetricWindow = MetricWindow.ALL_TIME,
    window_key: str = "all",
    drawdown: str = "0",
    net: str = "0",
    trades: int = 30,
    win_rate: float | None = 0.5,
    loss_streak: int = 0,
    account: str = "Sim101",
) -> PerformanceSnapshot:
    return PerformanceSnapshot(
        envelope=envelope(at),
        snapshot_id=f"s-{next(_ids)}",
        scope=MetricScope.ACCOUNT,
        scope_key=account,
        account=account,
        window=window,
        window_key=window_key,
        definitions_version=1,
        scope_trades=trades,
        currency="USD",
        trades=trades,
        wins=0,
        losses=0,
        breakevens=0,
        win_rate=win_rate,
        gross_profit=Decimal(0),
        gross_loss=Decimal(0),
        net_profit=Decimal(net),
        max_drawdown=Decimal(drawdown),
        current_drawdown=Decimal(drawdown),
        trading_days=1,
        sqn_basis="net_pnl",
        longest_win_streak=0,
        longest_loss_streak=loss_streak,
        current_loss_streak=loss_streak,
    )


def check(
    at: datetime = T0,
    *,
    service: str = "worker",
    healthy: bool = True,
    started_at: datetime = T0 - timedelta(hours=1),
    **figures: float,
) -> ServiceChecked:
    return ServiceChecked(
        envelope=envelope(at),
        service=service,
        instance="host:8788",
        healthy=healthy,
        checks={"kafka": healthy},
        figures={name.replace("__", "|"): value for name, value in figures.items()},
        started_at=started_at,
    )


def rules(*tables: dict[str, Any]) -> RuleSet:
    return parse_rules({"rules": list(tables)})


def run(ruleset: RuleSet, events: list[Any], book: AlertBook | None = None) -> list[AlertChanged]:
    book = book or AlertBook()
    return [alert for event in events for alert in book.apply(ruleset, event)]


def states(alerts: list[AlertChanged]) -> list[tuple[str, str]]:
    return [(a.key, a.state.value) for a in alerts]


DRAWDOWN = {"name": "dd", "type": "drawdown", "limit": "1000", "severity": "critical"}


def test_drawdown_raises_once_while_beyond_the_limit_and_resolves_below_it() -> None:
    minutes = [T0 + timedelta(minutes=m) for m in range(5)]
    alerts = run(
        rules(DRAWDOWN),
        [
            snapshot(minutes[0], drawdown="999.99"),
            snapshot(minutes[1], drawdown="1000.01"),
            snapshot(minutes[2], drawdown="1500"),
            snapshot(minutes[3], drawdown="1000"),
            snapshot(minutes[4], drawdown="1200"),
        ],
    )
    assert states(alerts) == [
        ("account=Sim101", "raised"),
        ("account=Sim101", "resolved"),
        ("account=Sim101", "raised"),
    ]
    first, resolved, again = alerts
    assert first.raised_at == resolved.raised_at == minutes[1]
    assert again.raised_at == minutes[4]
    assert first.severity is Severity.CRITICAL
    assert first.labels["value"] == "1000.01" and first.labels["limit"] == "1000"
    assert first.summary == "account=Sim101: drawdown 1,000.01 USD (limit 1,000.00)"
    assert first.envelope.event_id == f"dd|account=Sim101|{minutes[1].isoformat()}|raised"
    assert first.envelope.causation_ids and first.envelope.ts_event == minutes[1]


def test_an_alert_on_imported_history_says_so_and_others_do_not() -> None:
    history = snapshot(T0, drawdown="1500")
    history = replace(history, envelope=replace(history.envelope, source=Source.IMPORT))
    raised, resolved = run(rules(DRAWDOWN), [history, snapshot(T0 + timedelta(minutes=1))])
    assert raised.envelope.source is Source.IMPORT  # the notifier records it, sends it not
    assert raised.labels["history"] == "import" and raised.state is AlertState.RAISED
    assert resolved.envelope.source is Source.UNKNOWN
    # still beyond the limit on live figures: raised anew (to be told), the history's ended
    later = T0 + timedelta(minutes=2)
    first, ended, again, calm = run(rules(DRAWDOWN), [
        history, snapshot(later, drawdown="1200"), snapshot(later, drawdown="1300"),
        snapshot(later + timedelta(minutes=1))])  # fmt: skip
    assert (ended.state, ended.alert_id) == (AlertState.RESOLVED, first.alert_id)
    assert ended.summary == "account=Sim101: raised again on live figures"
    assert again.state is AlertState.RAISED and again.raised_at == later
    assert "history" not in again.labels and again.envelope.source is Source.UNKNOWN
    assert (calm.state, calm.alert_id) == (AlertState.RESOLVED, again.alert_id)


def test_performance_rules_read_only_their_window_scope_and_accounts() -> None:
    ruleset = rules(DRAWDOWN | {"accounts": ["APEX-1"]})
    assert run(ruleset, [snapshot(drawdown="5000")]) == []
    assert len(run(ruleset, [snapshot(drawdown="5000", account="APEX-1")])) == 1
    day = snapshot(drawdown="5000", window=MetricWindow.TRADING_DAY, window_key="2026-11-24")
    assert run(rules(DRAWDOWN), [day]) == []


def test_daily_loss_is_per_day_and_ends_with_the_day() -> None:
    ruleset = rules({"name": "daily", "type": "daily_loss", "limit": 500})
    monday = dict(window=MetricWindow.TRADING_DAY, window_key="2026-11-23")
    tuesday = dict(window=MetricWindow.TRADING_DAY, window_key="2026-11-24")
    alerts = run(
        ruleset,
        [
            snapshot(T0, net="-499", **monday),  # type: ignore[arg-type]
            snapshot(T0 + timedelta(minutes=1), net="-500", **monday),  # type: ignore[arg-type]
            snapshot(T0 + timedelta(days=1), net="20", **tuesday),  # type: ignore[arg-type]
        ],
    )
    assert states(alerts) == [
        ("account=Sim101 day=2026-11-23", "raised"),
        ("account=Sim101 day=2026-11-23", "resolved"),
    ]
    assert (
        alerts[1].summary == "account=Sim101 day=2026-11-23: the trading day 2026-11-23 has ended"
    )


def test_loss_streak_and_win_rate_collapse() -> None:
    streak = rules({"name": "streak", "type": "loss_streak", "count": 4})
    assert states(run(streak, [snapshot(loss_streak=3), snapshot(loss_streak=4)])) == [
        ("account=Sim101", "raised")
    ]
    collapse = rules(
        {"name": "wr", "type": "win_rate", "baseline": 0.55, "drop": 0.15, "min_trades": 20}
    )
    rolling = dict(window=MetricWindow.LAST_TRADES, window_key="100")
    few = snapshot(trades=19, win_rate=0.1, **rolling)  # type: ignore[arg-type]
    at_limit = snapshot(trades=20, win_rate=0.4, **rolling)  # type: ignore[arg-type]
    below = snapshot(trades=20, win_rate=0.39, **rolling)  # type: ignore[arg-type]
    assert run(collapse, [few, at_limit]) == []
    alerts = run(collapse, [below])
    assert states(alerts) == [("account=Sim101", "raised")]
    assert "win rate 39% over the last 20 trades" in alerts[0].summary


def test_feed_silent_per_connection() -> None:
    ruleset = rules({"name": "feed", "type": "feed_silent", "seconds": "90s"})
    alerts = run(
        ruleset,
        [
            check(service="bridge", feed_age_seconds__Rithmic=12, feed_age_seconds__CQG=91),
            check(T0 + timedelta(seconds=30), service="bridge", feed_age_seconds__CQG=3),
        ],
    )
    assert states(alerts) == [("connection=CQG", "raised"), ("connection=CQG", "resolved")]


def test_consumer_lag_and_service_filter() -> None:
    ruleset = rules(
        {"name": "lag", "type": "consumer_lag", "records": 1000, "services": ["worker"]}
    )
    assert run(ruleset, [check(service="projector", lag_records=5000)]) == []
    alerts = run(ruleset, [check(lag_records=1001), check(lag_records=1000)])
    assert states(alerts) == [
        ("service=worker instance=host:8788", "raised"),
        ("service=worker instance=host:8788", "resolved"),
    ]


def test_error_rate_counts_the_increase_between_checks_and_survives_a_restart() -> None:
    ruleset = rules({"name": "errors", "type": "error_rate", "per_minute": 5})
    restart = T0 + timedelta(minutes=2, seconds=30)
    alerts = run(
        ruleset,
        [
            check(T0, errors_total=60),  # 60 in the hour since start: 1 a minute
            check(T0 + timedelta(minutes=1), errors_total=66),  # 6 a minute
            check(T0 + timedelta(minutes=2), errors_total=68),  # 2 a minute
            # restarted: the counter began again at 0, 30 s ago
            check(restart + timedelta(seconds=30), errors_total=4, started_at=restart),
        ],
    )
    assert [(a.state.value, a.labels["value"]) for a in alerts] == [
        ("raised", "6.0"),
        ("resolved", "2.0"),
        ("raised", "8.0"),
    ]


def test_rebuild_failed_until_a_rebuild_succeeds() -> None:
    ruleset = rules({"name": "rebuild", "type": "rebuild_failed"})
    alerts = run(
        ruleset,
        [
            check(service="rebuild", rebuild_failed__trades=1),
            check(T0 + timedelta(minutes=1), service="rebuild", rebuild_failed__trades=0),
        ],
    )
    assert states(alerts) == [("projection=trades", "raised"), ("projection=trades", "resolved")]


def test_accuracy_below_its_minimum_until_a_run_at_or_above_it() -> None:
    ruleset = rules({"name": "accuracy", "type": "accuracy"})  # min 0.999 by default
    alerts = run(
        ruleset,
        [
            check(service="accuracy", accuracy__trades=0.9995, accuracy__positions=1.0),
            check(T0 + timedelta(hours=24), service="accuracy", accuracy__trades=0.998),
            check(T0 + timedelta(hours=48), service="accuracy", accuracy__trades=0.999),
        ],
    )
    assert states(alerts) == [("projection=trades", "raised"), ("projection=trades", "resolved")]
    assert alerts[0].labels["value"] == "0.998000" and alerts[0].labels["limit"] == "0.999"
    assert alerts[0].summary == (
        "data accuracy of trades: 99.8000% of rows identical to a rebuild's (at least 99.9%)"
    )
    strict = rules({"name": "accuracy", "type": "accuracy", "min": 0.9999})
    assert states(run(strict, [check(service="accuracy", accuracy__trades=0.9995)])) == [
        ("projection=trades", "raised")]  # fmt: skip


def test_recovery_stall_needs_no_progress_for_the_whole_time() -> None:
    ruleset = rules({"name": "stall", "type": "recovery_stall", "seconds": 60})
    at = [T0 + timedelta(seconds=30 * i) for i in range(8)]
    remaining = [1000, 900, 900, 900, 900, 800, 800, 0]
    alerts = run(
        ruleset,
        [check(t, recovery_remaining_records=r) for t, r in zip(at, remaining, strict=True)],
    )
    # 900 from at[1]: 60 s without progress at at[3]; progress at at[5]; done at at[7]
    assert [(a.state.value, a.raised_at) for a in alerts] == [
        ("raised", at[3]),
        ("resolved", at[3]),
    ]
    assert alerts[1].envelope.ts_event == at[5]


def test_a_stalled_stage_is_raised_by_default_within_thirty_seconds_and_resolved() -> None:
    ruleset = rules({"name": "stalled", "type": "stage_stall"})
    assert ruleset.rules[0].parameters["seconds"] == 30.0  # its own default, not 60
    at = [T0 + timedelta(seconds=10 * i) for i in range(5)]
    stalled = [0.0, 12.0, 31.0, 41.0, 0.0]
    alerts = run(
        ruleset,
        [check(t, stalled_seconds__matching=s, stalled_seconds__scopes=0.0)
         for t, s in zip(at, stalled, strict=True)],
    )  # fmt: skip
    assert [(a.key, a.state.value, a.envelope.ts_event) for a in alerts] == [
        ("service=worker instance=host:8788 stage=matching", "raised", at[2]),
        ("service=worker instance=host:8788 stage=matching", "resolved", at[4]),
    ]
    assert alerts[0].labels["stage"] == "matching"
    assert "stage matching has made no progress for 31 s" in alerts[0].summary
    assert "stage matching progresses" in alerts[1].summary


def test_a_stage_stall_rule_takes_its_own_limit() -> None:
    ruleset = rules({"name": "stalled", "type": "stage_stall", "seconds": "2m"})
    alerts = run(ruleset, [check(T0, stalled_seconds__paper=90.0)])
    assert [a.state.value for a in alerts] == [] or all(a.state.value != "raised" for a in alerts)
    alerts = run(ruleset, [check(T0, stalled_seconds__paper=120.0)])
    assert [a.state.value for a in alerts] == ["raised"]


def test_unhealthy_after_a_while() -> None:
    ruleset = rules({"name": "down", "type": "unhealthy", "seconds": 60})
    at = [T0 + timedelta(seconds=30 * i) for i in range(4)]
    alerts = run(
        ruleset,
        [check(at[0], healthy=False), check(at[1], healthy=False), check(at[2], healthy=False),
         check(at[3])],
    )  # fmt: skip
    assert [(a.state.value, a.envelope.ts_event) for a in alerts] == [
        ("raised", at[2]),
        ("resolved", at[3]),
    ]
    assert "failing kafka" in alerts[0].summary


def test_a_muted_rule_raises_at_the_first_event_after_the_session() -> None:
    settlement = {"between": "15:10-15:20", "timezone": "America/Chicago", "days": ["tue"]}
    ruleset = rules(DRAWDOWN | {"mute": [settlement]})
    chicago_1512 = datetime(2026, 11, 24, 21, 12, tzinfo=UTC)  # CST is UTC-6
    during = snapshot(chicago_1512, drawdown="2000")
    after = snapshot(chicago_1512 + timedelta(minutes=8), drawdown="2000")
    alerts = run(ruleset, [during, after])
    assert [a.raised_at for a in alerts] == [after.envelope.ts_event]


def test_an_active_session_overnight_belongs_to_the_day_it_starts() -> None:
    globex = {"between": "17:00-16:00", "timezone": "America/Chicago",
              "days": ["sun", "mon", "tue", "wed", "thu"]}  # fmt: skip
    ruleset = rules(DRAWDOWN | {"active": globex})
    (rule,) = ruleset.rules

    def chicago(year: int, month: int, day: int, hour: int, minute: int) -> datetime:  # CST
        return datetime(year, month, day, hour, minute, tzinfo=UTC) + timedelta(hours=6)

    assert rule.muted_at(chicago(2026, 11, 27, 16, 30))  # Friday 16:30: closed
    assert not rule.muted_at(chicago(2026, 11, 27, 3, 0))  # Friday 03:00: Thursday's session
    assert rule.muted_at(chicago(2026, 11, 28, 3, 0))  # Saturday 03:00: no Friday session
    assert not rule.muted_at(chicago(2026, 11, 29, 17, 0))  # Sunday 17:00: opens
    assert rule.muted_at(chicago(2026, 11, 24, 16, 30))  # Tuesday 16:30: the daily break


def test_alerts_of_a_removed_rule_are_resolved() -> None:
    book = AlertBook()
    assert len(run(rules(DRAWDOWN), [snapshot(drawdown="2000")], book)) == 1
    alerts = run(rules(), [snapshot(T0 + timedelta(minutes=1))], book)
    assert states(alerts) == [("account=Sim101", "resolved")]
    assert "was removed or changed" in alerts[0].summary and not book.raised


# -- replay safety --------------------------------------------------------------------------------

drawdowns = st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=40)


@given(drawdowns, st.data())
def test_a_restart_from_the_changelog_derives_what_an_uninterrupted_run_does(
    values: list[int], data: st.DataObject
) -> None:
    """Alternating raised/resolved per key, identical ids whether or not the stage restarted
    in between (its book written out and read back as the changelog would hold it)."""
    ruleset = rules(DRAWDOWN, {"name": "errors", "type": "error_rate", "per_minute": 3})
    events: list[Any] = []
    for i, value in enumerate(values):
        at = T0 + timedelta(minutes=i)
        events.append(snapshot(at, drawdown=str(value)))
        events.append(check(at, errors_total=value / 100))
    whole = run(ruleset, events)
    cut = data.draw(st.integers(min_value=0, max_value=len(events)))
    stage = AlertOnPerformance(codec=None, rules=ruleset)  # type: ignore[arg-type]
    before = AlertBook()
    first = run(ruleset, events[:cut], before)
    changelog = [
        Record("changelog", 0, n, f"{rule}|{key}".encode(), _kept(before, rule, key) or b"")
        for n, (rule, key) in enumerate(sorted(before.changed))
    ]
    stage.restore(0, [r for r in changelog if r.value])
    assert [a.envelope.event_id for a in first + run(ruleset, events[cut:], stage.books[0])] == [
        a.envelope.event_id for a in whole
    ]
    for key in {a.key for a in whole}:
        mine = [a for a in whole if a.key == key and a.rule == "dd"]
        assert [a.state for a in mine] == [
            AlertState.RAISED if i % 2 == 0 else AlertState.RESOLVED for i in range(len(mine))
        ]
        for raised, resolved in zip(mine[::2], mine[1::2], strict=False):
            assert resolved.raised_at == raised.raised_at <= resolved.envelope.ts_event


def test_unhealthy_ignores_a_clean_stop_and_starts_afresh_after_a_restart() -> None:
    ruleset = rules({"name": "down", "type": "unhealthy", "seconds": 60})
    at = [T0 + timedelta(seconds=30 * i) for i in range(8)]
    stopped = replace(check(at[1], healthy=False), checks={"running": False})
    restart = at[5]
    alerts = run(
        ruleset,
        [
            check(at[0], healthy=False),
            stopped,  # a clean stop ends the failing run: no alert however long it lasts
            check(restart, healthy=False, started_at=restart),  # stages not assigned yet
            check(at[6], healthy=False, started_at=restart),
            check(at[7], healthy=False, started_at=restart),  # 60 s since the restart
        ],
    )
    assert [(a.state.value, a.raised_at) for a in alerts] == [("raised", at[7])]
    assert alerts[0].summary == "worker host:8788: failing kafka"


def test_a_stage_no_rule_reads_passes_records_over_until_old_alerts_are_resolved() -> None:
    codec = default_codec()
    health = AlertOnHealth(codec, rules(DRAWDOWN))  # no health rule
    assert health.idle
    record = Record("health", 0, 0, b"k", b"not even avro")
    batch = Batch()
    health.process([record], batch)
    assert batch.outputs == []  # not decoded, so no dead letter either
    # a book still holding an alert from an earlier rules file is evaluated: resolved
    health.books[0] = AlertBook()
    health.books[0].apply(rules({"name": "lag", "type": "consumer_lag", "records": 1}),
                          check(lag_records=5))  # fmt: skip
    event = check(T0 + timedelta(minutes=1), lag_records=0)
    health.process([Record("health", 0, 1, b"k", codec.encode(event))], batch)
    alerts = [codec.decode(o.value or b"") for o in batch.outputs if o.topic == "derived.alerts"]
    assert all(isinstance(a, AlertChanged) for a in alerts)
    changed = [a for a in alerts if isinstance(a, AlertChanged)]
    assert [(a.rule, a.state) for a in changed] == [("lag", AlertState.RESOLVED)]
