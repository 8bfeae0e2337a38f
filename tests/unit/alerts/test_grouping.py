"""Grouping alerts into one notification per rule, state and channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.grouping import Grouper, combined
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def alert(key: str, *, rule: str = "daily-loss", state: AlertState = AlertState.RAISED,
          severity: Severity = Severity.WARNING, n: int = 0) -> AlertChanged:  # fmt: skip
    at = T0 + timedelta(seconds=n)
    return AlertChanged(
        envelope=Envelope(event_id=EventId(f"e{n}"), ts_event=at, ts_ingested=at, producer="t"),
        rule=rule, key=key, state=state, severity=severity, summary=f"{key}: net -1,200.00",
        labels={"account": key}, raised_at=at,
    )  # fmt: skip


def test_alerts_within_the_wait_go_out_together_per_channel() -> None:
    grouper = Grouper(5.0)
    grouper.add(alert("A", n=1), ["mail", "hook"], now=100.0)
    grouper.add(alert("B", n=2, severity=Severity.CRITICAL), ["mail"], now=102.0)
    grouper.add(alert("C", rule="lag", n=3), ["hook"], now=103.0)
    grouper.add(alert("A", state=AlertState.RESOLVED, n=4), ["mail"], now=103.5)
    assert grouper.due(104.9) == []
    due = {(d.channel, tuple(a.key for a in d.alerts)) for d in grouper.due(105.0)}
    assert due == {("mail", ("A", "B")), ("hook", ("A",))}
    rest = {(d.channel, d.alerts[0].rule, d.alerts[0].state.value) for d in grouper.flush()}
    assert rest == {("hook", "lag", "raised"), ("mail", "daily-loss", "resolved")}
    assert grouper.flush() == []


def test_combined_names_every_alert_and_takes_the_gravest_severity() -> None:
    members = [alert("A", n=1), alert("B", n=2, severity=Severity.CRITICAL), alert("C", n=3)]
    one = combined(members)
    assert one.key == "3 alerts: A, B, C" and one.severity is Severity.CRITICAL
    assert one.summary.splitlines() == [m.summary for m in members]
    assert one.labels == {"rule": "daily-loss", "grouped": "3", "keys": "A; B; C"}
    assert one.raised_at == members[0].raised_at and one.rule == "daily-loss"
    assert one.alert_id not in {m.alert_id for m in members}


@given(st.lists(st.tuples(st.sampled_from("ABCDE"), st.sets(st.sampled_from(["m", "h", "s"]))),
                max_size=20))  # fmt: skip
def test_every_claimed_delivery_is_sent_exactly_once(
    members: list[tuple[str, set[str]]],
) -> None:
    grouper = Grouper(1.0)
    for n, (key, channels) in enumerate(members):
        grouper.add(alert(key, rule=f"r{n % 2}", n=n), sorted(channels), now=float(n) / 10)
    sent = [(d.channel, a.envelope.event_id) for d in grouper.due(1000.0) for a in d.alerts]
    wanted = [(c, f"e{n}") for n, (_, channels) in enumerate(members) for c in channels]
    assert sorted(sent) == sorted(wanted)
