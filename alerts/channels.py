"""Where alerts go: the ``Channel`` protocol, its implementations, and the channels of a rules
file's ``[channels.<name>]`` tables.

Each table has a ``type`` (``email``, ``webhook``, ``sms`` or ``feed``), the settings of that
type, and two routing settings: ``severities`` (the channel receives only these; default all)
and ``resolved`` (whether it is told of resolutions; default true). Secrets are never in the
file: ``password_env``, ``token_env``, ``url_env`` and ``headers_env`` name environment
variables, read (and required to be set) when the channels are built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from alerts.config import Table
from alerts.feed import AlertFeed, feed_channel
from alerts.mail import EmailChannel, SmtpSettings, email_channel
from alerts.routing import EVERYTHING, Routing
from alerts.sms import SmsChannel, sms_channel
from alerts.webhook import WebhookChannel, webhook_channel
from core.errors import ConfigError
from schemas.events import AlertChanged, Severity

__all__ = [
    "EVERYTHING",
    "AlertFeed",
    "Channel",
    "EmailChannel",
    "Routing",
    "SmsChannel",
    "SmtpSettings",
    "WebhookChannel",
    "channels_from_config",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SEVERITIES = tuple(s.value for s in Severity if s is not Severity.UNKNOWN)


class Channel(Protocol):
    """Somewhere an alert is delivered. ``send`` raises ``alerts.errors.DeliveryError`` when it
    could not; the dispatcher retries."""

    @property
    def name(self) -> str: ...

    def wants(self, alert: AlertChanged) -> bool:
        """Whether the channel's routing (severities, resolutions) takes ``alert``."""
        ...

    def send(self, alert: AlertChanged) -> None: ...


_Builder = Callable[[str, Table, Routing], Channel]
_BUILDERS: dict[str, _Builder] = {
    "email": email_channel,
    "webhook": webhook_channel,
    "sms": sms_channel,
    "feed": feed_channel,
}


def channels_from_config(
    table: Mapping[str, Any], environ: Mapping[str, str], *, feed_token: str | None = None
) -> dict[str, Channel]:
    """The channels of the ``[channels.<name>]`` tables (parsed TOML or YAML), by name; a
    ``ConfigError`` naming the setting (``channels.ops-mail.port``) for any mistake. A feed
    without ``token_env`` takes ``feed_token`` (the process's token), else FILLSTREAM_TOKEN."""
    channels: dict[str, Channel] = {}
    paths: dict[str, str] = {}
    for name, settings in table.items():
        where = f"channels.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(where, "a channel's name must be letters, digits, '_', '.' or '-'")
        if not isinstance(settings, Mapping):
            raise ConfigError(where, f"must be a table, was {settings!r}")
        reader = Table(settings, where, environ)
        if "type" not in settings:
            raise reader.error("type", f"is required: one of {', '.join(_BUILDERS)}")
        kind = reader.choice("type", tuple(_BUILDERS), "")
        routing = _routing(reader)
        if kind == "feed":
            channel: Channel = feed_channel(name, reader, routing, feed_token)
        else:
            channel = _BUILDERS[kind](name, reader, routing)
        if isinstance(channel, AlertFeed):
            if channel.path in paths:
                raise reader.error("path", f"{channel.path} is served by {paths[channel.path]}")
            paths[channel.path] = where
        channels[name] = channel
    return channels


def _routing(table: Table) -> Routing:
    named = table.texts("severities", default=_SEVERITIES)
    for severity in named:
        if severity not in _SEVERITIES:
            raise table.error("severities", f"must list {', '.join(_SEVERITIES)}, was {severity!r}")
    given = "severities" in table.table
    return Routing(
        severities=frozenset(Severity(s) for s in named) if given else None,
        resolved=table.boolean("resolved", True),
    )
