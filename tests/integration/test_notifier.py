"""The notifier's decisions against a real PostgreSQL ledger: what is sent where, what is only
recorded, reminders and their end, and deliveries left pending by a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from alerts.ledger import DeliveryLedger
from alerts.notifier import Notifier
from core.database import connect
from core.settings import Settings
from projections.migrate import migrate
from schemas.codec import default_codec
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration


@dataclass
class Recorder:
    """A channel that keeps what it is sent (the real channels are tested against real
    servers in test_alert_delivery)."""

    name: str
    resolved: bool = True
    sent: list[AlertChanged] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wants(self, alert: AlertChanged) -> bool:
        return self.resolved or alert.state is AlertState.RAISED

    def send(self, alert: AlertChanged) -> None:
        with self.lock:
            self.sent.append(alert)


def alert(state: AlertState, *, ingested: datetime | None = None) -> AlertChanged:
    raised = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    now = ingested or datetime.now(UTC)
    return AlertChanged(
        envelope=Envelope(event_id=EventId(f"dd|{state.value}"), ts_event=raised,
                          ts_ingested=now, producer="tests"),
        rule="dd", key="account=Sim101", state=state, severity=Severity.CRITICAL,
        summary="account=Sim101: drawdown 2,600.00 USD (limit 2,500.00)", raised_at=raised,
    )  # fmt: skip


@pytest.fixture
def migrated(settings: Settings) -> Iterator[Settings]:
    migrate(settings)
    yield settings


def outcomes(settings: Settings) -> list[tuple[str, int, str, str]]:
    with connect(settings) as conn:
        return [
            (s, r, c, o)
            for s, r, c, o in conn.execute(
                "SELECT state, repeat, channel, outcome FROM alert_deliveries"
                " ORDER BY state, repeat, channel"
            ).fetchall()
        ]


def test_sent_once_reminded_until_resolved_on_every_channel(migrated: Settings) -> None:
    codec = default_codec()
    every, quiet = Recorder("every"), Recorder("quiet", resolved=False)
    notifier = Notifier(migrated, codec, {"every": every, "quiet": quiet}, repeat_seconds=1)
    now = datetime.now(UTC)
    raised = alert(AlertState.RAISED)
    assert sorted(notifier.handle(raised, codec.encode(raised), now)) == ["every", "quiet"]
    assert notifier.handle(raised, codec.encode(raised), now) == []  # read again: claimed
    wait_for(lambda: len(every.sent) == 1 and len(quiet.sent) == 1, timeout=10)
    wait_for(lambda: [o[3] for o in outcomes(migrated)] == ["delivered"] * 2, timeout=10)

    ledger = DeliveryLedger(connect(migrated, autocommit=True))
    assert ledger.due_reminders(3600) == []  # delivered a moment ago
    due = ledger.due_reminders(0)
    assert sorted((d.channel, d.repeat) for d in due) == [("every", 1), ("quiet", 1)]

    resolved = alert(AlertState.RESOLVED)
    assert notifier.handle(resolved, codec.encode(resolved), now) == ["every"]
    wait_for(lambda: len(every.sent) == 2, timeout=10)
    # the channel that does not want resolutions has it recorded: its reminders stop too
    assert ("resolved", 0, "quiet", "silenced") in outcomes(migrated)
    assert ledger.due_reminders(0) == []
    assert [a.state for a in every.sent] == [AlertState.RAISED, AlertState.RESOLVED]
    notifier.dispatcher.close()

    # the alert response: from the cause (the alert's ts_event) to the channel's acknowledgement,
    # first notifications only, per channel and day, as numpy takes the percentiles of the ledger
    with connect(migrated) as conn:
        rows = conn.execute(
            "SELECT channel, extract(epoch FROM delivered_at - ts_event)::float8"
            " FROM alert_deliveries WHERE outcome = 'delivered' AND repeat = 0"
        ).fetchall()
        view = conn.execute(
            "SELECT channel, day, deliveries, p50_seconds, p99_seconds, meets_target"
            " FROM alert_response_daily ORDER BY channel"
        ).fetchall()
    expected = []
    for channel in sorted({c for c, _ in rows}):
        seconds = np.array([s for c, s in rows if c == channel])
        expected.append((channel, date(2026, 11, 24), len(seconds),
                         pytest.approx(np.percentile(seconds, 50)),
                         pytest.approx(np.percentile(seconds, 99)), False))  # fmt: skip
    assert view == expected  # caused on 2026-11-24: far more than 30 s ago
    assert [row[2] for row in view] == [2, 1]  # every: raised and resolved; quiet: raised


def test_stale_history_is_recorded_and_a_crash_leaves_pending_deliveries_to_resume(
    migrated: Settings,
) -> None:
    codec = default_codec()
    first = Recorder("hook")
    notifier = Notifier(migrated, codec, {"hook": first}, repeat_seconds=0)
    old = alert(AlertState.RAISED, ingested=datetime.now(UTC) - timedelta(hours=2))
    assert notifier.handle(old, codec.encode(old), datetime.now(UTC)) == []
    assert outcomes(migrated) == [("raised", 0, "hook", "stale")]
    # a resolution of an alert nobody was told of is not sent either
    resolved = alert(AlertState.RESOLVED)
    assert notifier.handle(resolved, codec.encode(resolved), datetime.now(UTC)) == []
    notifier.dispatcher.close()

    # claimed, then the process died before the channel answered: pending, sent at next start
    with connect(migrated, autocommit=True) as conn:
        conn.execute("DELETE FROM alert_deliveries")
    fresh = alert(AlertState.RAISED)
    DeliveryLedger(connect(migrated, autocommit=True)).claim(
        fresh, codec.encode(fresh), ["hook"], "pending"
    )
    second = Recorder("hook")
    restarted = Notifier(migrated, codec, {"hook": second}, repeat_seconds=0)
    unsent = DeliveryLedger(connect(migrated, autocommit=True)).unsent()
    assert [(u.channel, u.repeat) for u in unsent] == [("hook", 0)]
    restarted.resume(unsent[0])
    wait_for(lambda: outcomes(migrated) == [("raised", 0, "hook", "delivered")], timeout=10)
    assert [a.alert_id for a in second.sent] == [fresh.alert_id]
    restarted.dispatcher.close()
