"""The SMS channel: a webhook-style SMS provider, ``{"to": number, "body": ≤160 characters}``
POSTed once per recipient with a bearer token."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from alerts import render
from alerts.config import Table
from alerts.errors import DeliveryError
from alerts.http import post_json
from alerts.routing import EVERYTHING, Routing
from schemas.events import AlertChanged

_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")
_REMEMBERED = 1000
"""Alerts whose recipients already reached are remembered, so a retry texts only the rest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsChannel:
    name: str
    url: str = field(repr=False)
    token: str = field(repr=False)
    recipients: tuple[str, ...]
    """Numbers in E.164 form (``+14155550123``)."""
    timeout: float = 10.0
    ca_file: str | None = None
    routing: Routing = EVERYTHING
    _reached: OrderedDict[tuple[object, ...], set[str]] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def wants(self, alert: AlertChanged) -> bool:
        return self.routing.wants(alert)

    def send(self, alert: AlertChanged) -> None:
        """Text every recipient not yet reached with this alert; ``DeliveryError`` naming the
        ones that failed (a retry then texts only them)."""
        identity = (alert.alert_id, alert.state, tuple(sorted(alert.labels.items())))
        with self._lock:
            reached = self._reached.setdefault(identity, set())
            self._reached.move_to_end(identity)
            while len(self._reached) > _REMEMBERED:
                self._reached.popitem(last=False)
        text = render.sms(alert)
        failures = []
        for number in self.recipients:
            if number in reached:
                continue
            try:
                post_json(
                    self.name, self.url, {"to": number, "body": text},
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=self.timeout, ca_file=self.ca_file,
                )  # fmt: skip
            except DeliveryError as e:
                failures.append(f"{_masked(number)}: {e.reason}")
                continue
            reached.add(number)
        if failures:
            raise DeliveryError(self.name, "; ".join(failures))


def sms_channel(name: str, table: Table, routing: Routing) -> SmsChannel:
    """An ``SmsChannel`` from its ``[channels.<name>]`` table (``type = "sms"``)."""
    recipients = table.texts("recipients")
    for number in recipients:
        if not _NUMBER.match(number):
            raise table.error("recipients", f"must be numbers like +14155550123, was {number!r}")
    channel = SmsChannel(
        name=name,
        url=table.url("url"),
        token=table.secret("token_env"),
        recipients=recipients,
        timeout=table.seconds("timeout", 10.0),
        ca_file=table.ca_file(),
        routing=routing,
    )
    table.refuse_unknown("sms")
    return channel


def _masked(number: str) -> str:
    return f"…{number[-4:]}"
