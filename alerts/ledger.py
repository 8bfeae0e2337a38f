"""The delivery ledger (``alert_deliveries``): which alert, state and reminder went to which
channel, claimed before it is sent.

A claim is a row inserted with ``ON CONFLICT DO NOTHING``: only the first notifier to see an
alert's state for a channel gets it, so a rewind, a rebuild or a second notifier that derives or
reads the same alert again sends nothing. The row keeps the alert's payload, so a delivery left
``pending`` by a crash is resumed at start, and reminders are sent from the ledger alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from schemas.events import AlertChanged

REMINDER = "repeat"
"""The label a reminder carries: how many reminders of the raised alert came before, plus one."""


@dataclass(frozen=True, slots=True)
class Claim:
    alert_id: str
    state: str
    repeat: int
    channel: str


@dataclass(frozen=True, slots=True)
class Unsent:
    """A claimed delivery not yet done: its payload, which reminder, which channel."""

    payload: bytes
    repeat: int
    channel: str


def claim_of(alert: AlertChanged, channel: str) -> Claim:
    return Claim(alert.alert_id, alert.state.value, repeat_of(alert), channel)


def repeat_of(alert: AlertChanged) -> int:
    return int(alert.labels.get(REMINDER, "0"))


class DeliveryLedger:
    """``alert_deliveries`` through one connection (autocommit: each claim stands alone)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def claim(
        self, alert: AlertChanged, payload: bytes, channels: Iterable[str], outcome: str
    ) -> list[str]:
        """Claim ``alert`` for ``channels`` with ``outcome`` (``pending`` to send it now,
        ``silenced`` or ``stale`` to send it never); the channels this call claimed."""
        claimed = []
        for channel in channels:
            row = self.conn.execute(
                "INSERT INTO alert_deliveries (alert_id, state, repeat, channel, outcome,"
                " ts_event, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING RETURNING channel",
                (alert.alert_id, alert.state.value, repeat_of(alert), channel, outcome,
                 alert.envelope.ts_event, payload),
            ).fetchone()  # fmt: skip
            if row is not None:
                claimed.append(channel)
        return claimed

    def record(self, claim: Claim, *, delivered: bool, attempts: int, error: str | None) -> None:
        self.conn.execute(
            "UPDATE alert_deliveries SET outcome = %s, attempts = %s, error = %s,"
            " delivered_at = CASE WHEN %s THEN now() END"
            " WHERE alert_id = %s AND state = %s AND repeat = %s AND channel = %s",
            ("delivered" if delivered else "failed", attempts, error, delivered,
             claim.alert_id, claim.state, claim.repeat, claim.channel),
        )  # fmt: skip

    def told_raising(self, alert_id: str) -> list[str]:
        """The channels that delivered the first notification of ``alert_id`` being raised,
        or are delivering it (a resolution queues behind it)."""
        rows = self.conn.execute(
            "SELECT channel FROM alert_deliveries WHERE alert_id = %s AND state = 'raised'"
            " AND repeat = 0 AND outcome IN ('delivered', 'pending')",
            (alert_id,),
        ).fetchall()
        return [channel for (channel,) in rows]

    def unsent(self) -> list[Unsent]:
        """Deliveries claimed but never done (the notifier stopped in between)."""
        rows = self.conn.execute(
            "SELECT payload, repeat, channel FROM alert_deliveries WHERE outcome = 'pending'"
            " ORDER BY decided_at"
        ).fetchall()
        return [Unsent(bytes(payload), repeat, channel) for payload, repeat, channel in rows]

    def due_reminders(self, every_seconds: float) -> list[Unsent]:
        """Raised alerts not yet resolved whose last notification on a channel was delivered
        ``every_seconds`` ago or more: their next reminder."""
        rows = self.conn.execute(
            "SELECT DISTINCT ON (d.alert_id, d.channel) d.payload, d.repeat, d.channel,"
            "       d.outcome = 'delivered'"
            "       AND d.delivered_at <= now() - make_interval(secs => %s)"
            " FROM alert_deliveries d"
            " WHERE d.state = 'raised' AND NOT EXISTS ("
            "   SELECT 1 FROM alert_deliveries r"
            "   WHERE r.alert_id = d.alert_id AND r.state = 'resolved')"
            " ORDER BY d.alert_id, d.channel, d.repeat DESC",
            (every_seconds,),
        ).fetchall()
        return [
            Unsent(bytes(payload), repeat + 1, channel)
            for payload, repeat, channel, due in rows
            if due
        ]

    def outcomes(self, alert_ids: Sequence[str]) -> list[tuple[str, str, int, str, str]]:
        """(alert_id, state, repeat, channel, outcome) of these alerts, for people and tests."""
        return [
            (a, s, r, c, o)
            for a, s, r, c, o in self.conn.execute(
                "SELECT alert_id, state, repeat, channel, outcome FROM alert_deliveries"
                " WHERE alert_id = ANY(%s) ORDER BY alert_id, state, repeat, channel",
                (list(alert_ids),),
            ).fetchall()
        ]
