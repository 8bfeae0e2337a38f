"""The webhook channel: an HTTP POST of JSON per alert, in the shape its receiver expects
(``generic``, ``slack``, ``discord`` or ``teams``; see ``alerts.render``); a scheduled report as
its headline and links in the same format (``alerts.report_message``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts import render, report_message
from alerts.config import Table
from alerts.http import post_json
from alerts.report_message import ReportMessage
from alerts.routing import EVERYTHING, Routing
from schemas.events import AlertChanged

FORMATS: dict[str, Callable[[AlertChanged], dict[str, Any]]] = {
    "generic": render.generic,
    "slack": render.slack,
    "discord": render.discord,
    "teams": render.teams,
}
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookChannel:
    name: str
    url: str = field(repr=False)
    format: str = "generic"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    ca_file: str | None = None
    routing: Routing = EVERYTHING

    def wants(self, alert: AlertChanged) -> bool:
        return self.routing.wants(alert)

    def body(self, alert: AlertChanged) -> dict[str, Any]:
        return FORMATS[self.format](alert)

    def send(self, alert: AlertChanged) -> None:
        post_json(
            self.name, self.url, self.body(alert),
            headers=self.headers, timeout=self.timeout, ca_file=self.ca_file,
        )  # fmt: skip

    def send_report(self, report: ReportMessage) -> None:
        post_json(
            self.name, self.url, report_message.FORMATS[self.format](report),
            headers=self.headers, timeout=self.timeout, ca_file=self.ca_file,
        )  # fmt: skip


def webhook_channel(name: str, table: Table, routing: Routing) -> WebhookChannel:
    """A ``WebhookChannel`` from its ``[channels.<name>]`` table (``type = "webhook"``)."""
    written = table.texts_table("headers")
    for header in written:
        if header.lower() in _SECRET_HEADERS:
            raise table.error(
                f"headers.{header}", "is a secret: name an environment variable in headers_env"
            )
    from_env = {
        header: table.variable(f"headers_env.{header}", variable)
        for header, variable in table.texts_table("headers_env").items()
    }
    channel = WebhookChannel(
        name=name,
        url=table.url("url"),
        format=table.choice("format", tuple(FORMATS), "generic"),
        headers={**written, **from_env},
        timeout=table.seconds("timeout", 10.0),
        ca_file=table.ca_file(),
        routing=routing,
    )
    table.refuse_unknown("webhook")
    return channel
