"""A scheduled report as the channels send it: the e-mail's parts (text, HTML with its plots as
related PNG images, the PDF attached), its Message-ID, the late mark; each webhook format's
headline and links, with the receiver's escaping."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy
from typing import Any

from alerts import report_message
from alerts.channels import channels_from_config
from alerts.mail import EmailChannel
from alerts.report_message import ReportMessage

PNG = b"\x89PNG\r\n\x1a\nfake"
HEADLINE = (("Trades", "4"), ("Net P&L", "1,405.50"), ("Win rate", "75.0%"), ("Alerts", "2"))


def message(**overrides: Any) -> ReportMessage:
    fields: dict[str, Any] = {
        "kind": "daily",
        "first": date(2025, 5, 15),
        "last": date(2025, 5, 15),
        "title": "Daily summary, Thursday 15 May 2025",
        "headline": HEADLINE,
        "html": '<html><body><h1>Daily</h1><img src="cid:plot-equity"></body></html>',
        "images": {"plot-equity": PNG},
        "pdf": b"%PDF-1.7 fake",
        "link": "https://fs.example/reports/daily/2025-05-15?sig=abc",
        "pdf_link": "https://fs.example/reports/daily/2025-05-15.pdf?sig=abc",
        "due_at": datetime(2025, 5, 15, 22, 10, tzinfo=UTC),
    }
    return ReportMessage(**{**fields, **overrides})


def mail() -> EmailChannel:
    channel = channels_from_config(
        {"ops": {"type": "email", "host": "127.0.0.1", "security": "none",
                 "sender": "fillstream@example.com", "recipients": ["desk@example.com"]}},
        {},
    )["ops"]  # fmt: skip
    assert isinstance(channel, EmailChannel)
    return channel


def test_the_email_has_the_html_inline_its_plots_and_the_pdf_attached() -> None:
    sent = mail().report_message(message())
    parsed = email.message_from_bytes(sent.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "[fillstream] Daily summary, Thursday 15 May 2025"
    assert parsed["Message-ID"] == "<report.daily.2025-05-15.ops@example.com>"
    assert parsed["X-Fillstream-Report"] == "daily 2025-05-15"
    assert parsed.get_content_type() == "multipart/mixed"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Net P&L: 1,405.50" in text.get_content()
    assert "https://fs.example/reports/daily/2025-05-15?sig=abc" in text.get_content()
    assert 'src="cid:plot-equity"' in html.get_content()
    parts = {part.get_content_type(): part for part in parsed.walk()}
    assert parts["multipart/related"] is not None
    image = parts["image/png"]
    assert image["Content-ID"] == "<plot-equity>" and image.get_content() == PNG
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "daily-2025-05-15.pdf"
    assert attachment.get_content() == b"%PDF-1.7 fake"


def test_a_late_report_says_so_in_the_subject_and_the_text() -> None:
    late = message(late=True)
    assert late.subject.endswith("(sent late)")
    assert late.late_note is not None and "2025-05-15T22:10:00Z" in late.late_note
    assert late.late_note in late.text()
    assert message().late_note is None and "late" not in message().text()


def test_each_webhook_format_carries_the_headline_and_the_link() -> None:
    generic = report_message.generic(message(late=True))
    assert generic == {
        "type": "report", "kind": "daily", "title": "Daily summary, Thursday 15 May 2025",
        "period": {"first": "2025-05-15", "last": "2025-05-15"}, "headline": dict(HEADLINE),
        "due_at": "2025-05-15T22:10:00Z", "late": True,
        "url": "https://fs.example/reports/daily/2025-05-15?sig=abc",
        "pdf_url": "https://fs.example/reports/daily/2025-05-15.pdf?sig=abc",
    }  # fmt: skip
    slack = report_message.slack(message(title="P&L <b>"))["text"]
    assert "P&amp;L &lt;b&gt;" in slack and "Net P&amp;L 1,405.50" in slack
    assert "<https://fs.example/reports/daily/2025-05-15?sig=abc|Open the report>" in slack
    discord = report_message.discord(message())
    assert discord["allowed_mentions"] == {"parse": []}
    assert discord["content"].endswith("https://fs.example/reports/daily/2025-05-15?sig=abc")
    card = report_message.teams(message())["attachments"][0]["content"]
    assert card["actions"][0]["url"] == "https://fs.example/reports/daily/2025-05-15?sig=abc"
    assert {"title": "Trades", "value": "4"} in card["body"][1]["facts"]
    long = report_message.discord(message(title="x" * 3000))["content"]
    assert len(long) == 2000
