"""The scheduled reports' ledger (``report_routes``, ``report_documents``, ``report_deliveries``):
each report claimed per channel before it is sent, each period's documents as first rendered.

A claim is a row inserted with ``ON CONFLICT DO NOTHING``: the first notifier to claim a report
for a channel sends it; a restart, a second notifier or a clock running twice over the same
moment finds it claimed. The row names the claiming connection's PostgreSQL backend (its pid and
start): a ``pending`` row whose backend is gone belongs to a notifier that died between claiming
and recording, and the next notifier to look takes it over (one ``UPDATE``, so two cannot both
take it). A crash after the channel accepted and before the outcome was recorded can therefore
send one report twice, never none; e-mail readers can tell the copy by its Message-ID.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

_BACKEND = "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """A report this notifier now owns for a channel."""

    kind: str
    first: date
    channel: str
    due_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A period's report as rendered once: the web page (plots inline), the e-mail's HTML (plots
    as ``cid:`` images, a ``NOTE`` where a late report says so), the PDF, the figures."""

    kind: str
    first: date
    last: date
    title: str
    headline: tuple[tuple[str, str], ...]
    html: str = field(repr=False)
    mail_html: str = field(repr=False)
    images: dict[str, bytes] = field(default_factory=dict, repr=False)
    pdf: bytes = field(repr=False)
    figures: dict[str, Any] = field(default_factory=dict, repr=False)


NOTE = "<!-- fillstream:note -->"
"""Where a delivery's own note (sent late) goes in the e-mail's HTML."""


class ReportLedger:
    """The report tables through one connection (autocommit: each claim stands alone)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def route(self, kind: str, channel: str) -> datetime:
        """Since when ``channel`` receives ``kind`` reports (now, the first time it is asked)."""
        self.conn.execute(
            "INSERT INTO report_routes (kind, channel) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (kind, channel),
        )
        row = self.conn.execute(
            "SELECT since FROM report_routes WHERE kind = %s AND channel = %s", (kind, channel)
        ).fetchone()
        assert row is not None
        since: datetime = row[0]
        return since

    def known(self, since: date) -> set[tuple[str, date, str]]:
        """(kind, first day, channel) of every report claimed for a period from ``since`` on."""
        rows = self.conn.execute(
            "SELECT kind, period_first, channel FROM report_deliveries WHERE period_first >= %s",
            (since,),
        ).fetchall()
        return {(kind, first, channel) for kind, first, channel in rows}

    def claim(self, kind: str, first: date, channel: str, due_at: datetime, outcome: str) -> bool:
        """Claim the ``kind`` report of ``first`` for ``channel`` (``pending``: to send it now;
        ``skipped``: too old to send); whether this call claimed it."""
        row = self.conn.execute(
            "INSERT INTO report_deliveries (kind, period_first, channel, due_at, outcome,"
            " claimed_pid, claimed_backend)"
            f" VALUES (%s, %s, %s, %s, %s, pg_backend_pid(), {_BACKEND})"
            " ON CONFLICT DO NOTHING RETURNING channel",
            (kind, first, channel, due_at, outcome),
        ).fetchone()  # fmt: skip
        return row is not None

    def take_over(self, retry_after: timedelta, catch_up: timedelta) -> list[Claimed]:
        """Claim again what no living notifier is sending: ``pending`` rows whose claiming
        backend is gone, and ``failed`` ones last tried ``retry_after`` ago and due within
        ``catch_up``."""
        rows = self.conn.execute(
            "UPDATE report_deliveries d SET outcome = 'pending', claimed_at = now(),"
            f"   claimed_pid = pg_backend_pid(), claimed_backend = {_BACKEND}"
            " WHERE (d.outcome = 'pending' AND NOT EXISTS ("
            "         SELECT FROM pg_stat_activity a"
            "         WHERE a.pid = d.claimed_pid AND a.backend_start = d.claimed_backend))"
            "    OR (d.outcome = 'failed' AND d.claimed_at <= now() - %s"
            "        AND d.due_at > now() - %s)"
            " RETURNING d.kind, d.period_first, d.channel, d.due_at",
            (retry_after, catch_up),
        ).fetchall()  # fmt: skip
        return [Claimed(kind=k, first=f, channel=c, due_at=at) for k, f, c, at in rows]

    def record(
        self, claim: Claimed, *, delivered: bool, attempts: int, error: str | None, late: bool
    ) -> None:
        self.conn.execute(
            "UPDATE report_deliveries SET outcome = %s, attempts = attempts + %s, error = %s,"
            " late = %s, delivered_at = CASE WHEN %s THEN now() END"
            " WHERE kind = %s AND period_first = %s AND channel = %s",
            ("delivered" if delivered else "failed", attempts, error, late, delivered,
             claim.kind, claim.first, claim.channel),
        )  # fmt: skip

    def document(self, kind: str, first: date) -> Document | None:
        row = self.conn.execute(
            "SELECT period_last, title, html, mail_html, images, pdf, figures"
            " FROM report_documents WHERE kind = %s AND period_first = %s",
            (kind, first),
        ).fetchone()
        if row is None:
            return None
        last, title, html, mail_html, images, pdf, figures = row
        return Document(
            kind=kind, first=first, last=last, title=title,
            headline=tuple((label, value) for label, value in figures.get("headline", [])),
            html=html, mail_html=mail_html,
            images={cid: base64.b64decode(data) for cid, data in images.items()},
            pdf=bytes(pdf), figures=figures,
        )  # fmt: skip

    def keep(self, document: Document) -> Document:
        """Store ``document`` unless its period's is stored already; the one stored (the first
        rendered stands: every channel and link shows the same report)."""
        figures = {**document.figures, "headline": [list(h) for h in document.headline]}
        self.conn.execute(
            "INSERT INTO report_documents (kind, period_first, period_last, title, html,"
            " mail_html, images, pdf, figures) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (document.kind, document.first, document.last, document.title, document.html,
             document.mail_html,
             json.dumps({k: base64.b64encode(v).decode() for k, v in document.images.items()}),
             document.pdf, json.dumps(figures)),
        )  # fmt: skip
        kept = self.document(document.kind, document.first)
        assert kept is not None
        return kept

    def outcomes(self) -> list[tuple[str, date, str, str, bool]]:
        """(kind, first day, channel, outcome, late) of every report, for people and tests."""
        return [
            tuple(row)
            for row in self.conn.execute(
                "SELECT kind, period_first, channel, outcome, late FROM report_deliveries"
                " ORDER BY kind, period_first, channel"
            ).fetchall()
        ]
