"""The notifier: follows ``derived.alerts`` and delivers each alert once per channel.

For every alert read, and every channel whose routing wants it, a delivery is claimed in the
ledger (``alerts.ledger``) before anything is sent, then handed to the dispatcher, which retries
each channel on its own. What is never sent is still claimed, with its reason:

- ``silenced``: a silence in ``control.silences`` matched the alert when it was read;
- ``stale``: the event behind it entered the log more than ``max_age`` ago (a first start on an
  old log, a replay of history), or it is about history imported from a Trades export (its
  figures' latest trade is an imported one; a resolution goes where its raising went): the
  alerts go to the history, not to people;
- a resolution of an alert whose raising a channel did not deliver is not sent there either.

Offsets are committed after the claims, but the claims, not the offsets, decide: a rewind that
reads an alert again, or a rebuild that derives it again with the same identity, finds it
claimed. A delivery claimed but not done when the notifier stopped is resumed at its next
start, so a crash between sending and recording can send one notification twice, never none.
Reminders of alerts still raised go out every ``repeat_seconds`` (from the ledger alone).
With ``group_seconds``, the alerts of one rule and state claimed within that long of the first
go to each channel as one notification (``alerts.grouping``); each keeps its own ledger row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Message

from alerts.channels import Channel
from alerts.dispatch import Dispatcher, Outcome
from alerts.grouping import Due, Grouper, combined
from alerts.ledger import REMINDER, DeliveryLedger, Unsent, claim_of
from alerts.silences import Silences
from core.database import connect
from core.errors import CodecError
from core.kafka import consume_batch
from core.lag import LagGauge
from core.settings import Settings
from schemas.catalog import DERIVED_ALERTS
from schemas.codec import Codec
from schemas.events import AlertChanged, AlertState, Source

log = logging.getLogger("fillstream.alerts")

TOPIC = DERIVED_ALERTS
GROUP = "alerts.notify"

DEFAULT_MAX_AGE = 3600.0
"""Seconds after which an alert's event is history, not news: it is recorded, not sent."""

_REMINDER_CHECK_SECONDS = 30.0
"""How often the ledger is asked for reminders due, at most (a quarter of the interval, for
short ones)."""


class Notifier:
    """See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        channels: Mapping[str, Channel],
        *,
        repeat_seconds: float,
        group_seconds: float = 0.0,
        max_age: float = DEFAULT_MAX_AGE,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.channels = dict(channels)
        self.repeat_seconds = repeat_seconds
        self.grouper = Grouper(group_seconds)
        self._members: dict[tuple[str, str], tuple[AlertChanged, ...]] = {}
        """(alert id, channel) of a combined notification → the alerts it stands for."""
        self.max_age = max_age
        self.silences = Silences(settings, codec)
        self.dispatcher = dispatcher or Dispatcher(self.channels, self._delivered)
        self._conn = connect(settings, autocommit=True)
        self._ledger = DeliveryLedger(self._conn)
        self._ledger_lock = threading.Lock()
        self.assigned = False

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set."""
        follower = threading.Thread(
            target=self.silences.follow, args=(stop,), name="silences", daemon=True
        )
        follower.start()
        waited_until = time.monotonic() + 30  # a silence set before a start must hold
        while not self.silences.loaded.wait(0.2):
            if stop.is_set():
                return
            if time.monotonic() >= waited_until:
                break
        for unsent in self._locked(self._ledger.unsent):
            self.resume(unsent)
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": self.settings.group(GROUP),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        lag = LagGauge(self.settings.group(GROUP))
        consumer.subscribe(
            [self.settings.topic(TOPIC)],
            on_assign=lambda c, ps: setattr(self, "assigned", True),
        )
        every = min(_REMINDER_CHECK_SECONDS, max(self.repeat_seconds / 4, 0.2))
        next_check = time.monotonic() + every
        try:
            while not stop.is_set():
                messages = consume_batch(consumer, 500, 0.5)
                self._deliver(messages)
                if messages:
                    consumer.commit(asynchronous=False)
                lag.observe(consumer)
                self._send(self.grouper.due(time.monotonic()))
                if self.repeat_seconds and time.monotonic() >= next_check:
                    next_check = time.monotonic() + every
                    for due in self._locked(self._due):
                        self._remind(due)
        finally:
            self._send(self.grouper.flush())
            consumer.close()
            lag.forget()
            self.dispatcher.close(timeout=5)  # within the process's grace period
            self._conn.close()

    def _deliver(self, messages: Sequence[Message]) -> None:
        now = datetime.now(UTC)
        for message in messages:
            if message.error() is not None:
                log.warning("reading %s: %s", TOPIC, message.error())
                continue
            payload = message.value() or b""
            try:
                alert = self.codec.decode(payload)
            except CodecError as e:
                log.warning("an alert that does not decode was skipped: %s", e)
                continue
            if not isinstance(alert, AlertChanged):
                continue
            self.handle(alert, payload, now)

    def handle(self, alert: AlertChanged, payload: bytes, now: datetime) -> list[str]:
        """Claim ``alert`` for the channels that want it and send it where it should go; the
        channels it was handed to."""
        wanted = [name for name, channel in self.channels.items() if channel.wants(alert)]
        with self._ledger_lock:
            if alert.state is AlertState.RESOLVED:
                # sent only where the raising was; recorded everywhere it was (or was wanted),
                # so the reminders of the raised alert stop on every channel
                told = set(self._ledger.told_raising(alert.alert_id))
                quiet = [n for n in self.channels if (n in told) != (n in wanted)]
                self._ledger.claim(alert, payload, quiet, "silenced")
                wanted = [name for name in wanted if name in told]
            history = alert.envelope.source is Source.IMPORT and alert.state is AlertState.RAISED
            if history or (now - alert.envelope.ts_ingested).total_seconds() > self.max_age:
                self._ledger.claim(alert, payload, wanted, "stale")
                return []
            if self.silences.holding(alert, now) is not None:
                self._ledger.claim(alert, payload, wanted, "silenced")
                return []
            claimed = self._ledger.claim(alert, payload, wanted, "pending")
        if claimed and self.grouper.wait > 0:
            self.grouper.add(alert, claimed, time.monotonic())
        elif claimed:
            self.dispatcher.submit(alert, claimed)
        return claimed

    def _send(self, due: list[Due]) -> None:
        for batch in due:
            if len(batch.alerts) == 1:
                self.dispatcher.submit(batch.alerts[0], [batch.channel])
                continue
            notification = combined(batch.alerts)
            self._members[(notification.alert_id, batch.channel)] = batch.alerts
            self.dispatcher.submit(notification, [batch.channel])

    def resume(self, unsent: Unsent) -> None:
        """Send a delivery claimed before the notifier last stopped."""
        alert = self.codec.decode(unsent.payload)
        if isinstance(alert, AlertChanged) and unsent.channel in self.channels:
            self.dispatcher.submit(_as_reminder(alert, unsent.repeat), [unsent.channel])

    def _remind(self, due: Unsent) -> None:
        alert = self.codec.decode(due.payload)
        if not isinstance(alert, AlertChanged) or due.channel not in self.channels:
            return
        reminder = _as_reminder(alert, due.repeat)
        with self._ledger_lock:
            claimed = self._ledger.claim(reminder, due.payload, [due.channel], "pending")
        if claimed:
            self.dispatcher.submit(reminder, claimed)

    def _delivered(self, alert: AlertChanged, channel: str, outcome: Outcome) -> None:
        members = self._members.pop((alert.alert_id, channel), (alert,))
        with self._ledger_lock:
            for member in members:
                self._ledger.record(
                    claim_of(member, channel),
                    delivered=outcome.delivered,
                    attempts=outcome.attempts,
                    error=None if outcome.delivered else outcome.error,
                )

    def _due(self) -> list[Unsent]:
        return self._ledger.due_reminders(self.repeat_seconds)

    def _locked(self, read: Any) -> Any:
        with self._ledger_lock:
            return read()


def _as_reminder(alert: AlertChanged, repeat: int) -> AlertChanged:
    if repeat == 0:
        return alert
    return replace(alert, labels={**alert.labels, REMINDER: str(repeat)})
