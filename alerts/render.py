"""What an alert says on each channel: e-mail subject and body, the generic JSON, the Slack,
Discord and Teams bodies and the SMS one-liner. Pure functions of the alert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import AlertChanged, AlertState, Severity

SMS_LIMIT = 160
DISCORD_LIMIT = 2000
"""Discord refuses a message whose content is longer."""

_TEAMS_COLOURS = {Severity.CRITICAL: "Attention", Severity.WARNING: "Warning"}


def utc_iso(at: datetime) -> str:
    """``at`` in UTC as ISO 8601 with a ``Z`` (a naive time is taken to be UTC already)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat().replace("+00:00", "Z")


def subject(alert: AlertChanged) -> str:
    """``[CRITICAL] raised: drawdown account=Sim101``, ``[RESOLVED] drawdown account=Sim101``."""
    if alert.state is AlertState.RESOLVED:
        return one_line(f"[RESOLVED] {alert.rule} {alert.key}")
    severity = alert.severity.value.upper()
    return one_line(f"[{severity}] {alert.state.value}: {alert.rule} {alert.key}")


def text_body(alert: AlertChanged) -> str:
    """The plain-text e-mail body: the summary, then every field on its own line."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or "(none)"
    return (
        f"{alert.summary}\n\n"
        f"rule:      {alert.rule}\n"
        f"key:       {alert.key}\n"
        f"state:     {alert.state.value}\n"
        f"severity:  {alert.severity.value}\n"
        f"labels:    {labels}\n"
        f"raised at: {utc_iso(alert.raised_at)}\n"
        f"event at:  {utc_iso(alert.envelope.ts_event)}\n"
        f"alert id:  {alert.alert_id}\n"
    )


def generic(alert: AlertChanged) -> dict[str, Any]:
    """The whole alert as a JSON object (the ``generic`` webhook format and the live feed)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "key": alert.key,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "summary": alert.summary,
        "labels": dict(alert.labels),
        "raised_at": utc_iso(alert.raised_at),
        "ts_event": utc_iso(alert.envelope.ts_event),
    }


def slack(alert: AlertChanged) -> dict[str, Any]:
    """An incoming-webhook message: ``{"text": …}`` in Slack's mrkdwn, with <, > and & escaped
    so an alert's text cannot form links or mentions."""
    text = f"*{slack_escape(subject(alert))}*\n{slack_escape(alert.summary)}"
    return {"text": text}


def discord(alert: AlertChanged) -> dict[str, Any]:
    """A webhook message: ``{"content": …}``, at most 2000 characters, mentioning nobody."""
    content = clip(f"**{subject(alert)}**\n{alert.summary}", DISCORD_LIMIT)
    return {"content": content, "allowed_mentions": {"parse": []}}


def teams(alert: AlertChanged) -> dict[str, Any]:
    """A message with one Adaptive Card (1.4), as a Teams Workflows webhook ("post to a channel
    when a webhook request is received") takes it."""
    resolved = alert.state is AlertState.RESOLVED
    colour = "Good" if resolved else _TEAMS_COLOURS.get(alert.severity, "Accent")
    facts = [
        {"title": "Rule", "value": alert.rule},
        {"title": "Key", "value": alert.key},
        {"title": "State", "value": alert.state.value},
        {"title": "Severity", "value": alert.severity.value},
        {"title": "Raised at", "value": utc_iso(alert.raised_at)},
        *({"title": k, "value": v} for k, v in sorted(alert.labels.items())),
        {"title": "Alert id", "value": alert.alert_id},
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": subject(alert), "weight": "Bolder", "size": "Medium",
             "color": colour, "wrap": True},
            {"type": "TextBlock", "text": alert.summary, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }  # fmt: skip
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def sms(alert: AlertChanged) -> str:
    """One line of at most 160 characters: ``CRITICAL raised drawdown account=Sim101: …``."""
    if alert.state is AlertState.RESOLVED:
        head = f"RESOLVED {alert.rule} {alert.key}"
    else:
        head = f"{alert.severity.value.upper()} {alert.state.value} {alert.rule} {alert.key}"
    return clip(one_line(f"{head}: {alert.summary}"), SMS_LIMIT)


def one_line(text: str) -> str:
    """``text`` with every run of spaces, line breaks and other unprintable characters (controls,
    direction overrides) made one space: safe in a mail header and in one SMS line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
