"""A scheduled report as the channels send it: its title, headline figures, documents and links,
and how each webhook format shows it (a headline and a link: the report itself is read in the
browser or in the e-mail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from alerts.render import DISCORD_LIMIT, clip, one_line, slack_escape, utc_iso


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMessage:
    kind: str
    """``daily`` or ``weekly``."""
    first: date
    last: date
    title: str
    headline: tuple[tuple[str, str], ...]
    """(label, value) of the figures a glance needs: trades, net P&L, win rate, alerts."""
    html: str = field(repr=False)
    """The report with its plots as ``cid:`` images (``images``), for e-mail."""
    images: dict[str, bytes] = field(default_factory=dict, repr=False)
    """PNG plots by content id."""
    pdf: bytes = field(repr=False)
    link: str
    """The report in the browser (a signed address of the read API)."""
    pdf_link: str
    due_at: datetime
    late: bool = False
    """Sent more than a few minutes after its time (the notifier was down then)."""

    @property
    def subject(self) -> str:
        return one_line(f"[fillstream] {self.title}" + (" (sent late)" if self.late else ""))

    @property
    def file_name(self) -> str:
        return f"{self.kind}-{self.first}.pdf"

    @property
    def late_note(self) -> str | None:
        if not self.late:
            return None
        return (f"Sent late: this report was due at {utc_iso(self.due_at)}, when the notifier "
                "was not running or its channel not answering.")  # fmt: skip

    def text(self) -> str:
        """The plain-text version: headline, the late note, the links."""
        lines = [self.title, ""]
        if self.late_note:
            lines += [self.late_note, ""]
        lines += [f"{label}: {value}" for label, value in self.headline]
        lines += ["", f"The report: {self.link}", f"PDF: {self.pdf_link}"]
        return "\n".join(lines) + "\n"


def generic(report: ReportMessage) -> dict[str, Any]:
    """The JSON a generic receiver gets."""
    return {
        "type": "report",
        "kind": report.kind,
        "title": report.title,
        "period": {"first": report.first.isoformat(), "last": report.last.isoformat()},
        "headline": dict(report.headline),
        "due_at": utc_iso(report.due_at),
        "late": report.late,
        "url": report.link,
        "pdf_url": report.pdf_link,
    }


def _line(report: ReportMessage) -> str:
    return " · ".join(f"{label} {value}" for label, value in report.headline)


def slack(report: ReportMessage) -> dict[str, Any]:
    late = " _(sent late)_" if report.late else ""
    text = (f"*{slack_escape(report.title)}*{late}\n{slack_escape(_line(report))}\n"
            f"<{report.link}|Open the report> · <{report.pdf_link}|PDF>")  # fmt: skip
    return {"text": text}


def discord(report: ReportMessage) -> dict[str, Any]:
    late = " (sent late)" if report.late else ""
    content = f"**{report.title}**{late}\n{_line(report)}\n{report.link}"
    return {"content": clip(content, DISCORD_LIMIT), "allowed_mentions": {"parse": []}}


def teams(report: ReportMessage) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": report.subject, "weight": "Bolder", "size": "Medium",
             "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in report.headline]},
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open the report", "url": report.link},
            {"type": "Action.OpenUrl", "title": "PDF", "url": report.pdf_link},
        ],
    }  # fmt: skip
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


FORMATS = {"generic": generic, "slack": slack, "discord": discord, "teams": teams}
