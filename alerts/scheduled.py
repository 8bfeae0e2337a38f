"""The scheduled reports: the notifier sends the daily summary after each trading day's session
closes and the weekly review after the week's last session (``domain.report_schedule``), to the
channels ``[reports]`` of the rules file names.

Every ``check_every`` seconds the scheduler lists the reports due since each route was first
seen (``report_routes``), claims each one per channel in the ledger (``alerts.report_ledger``),
renders the period's report once (``alerts.report_data`` gathers, ``domain.reports`` computes,
``alerts.reports`` renders; the first rendering is stored and every channel and link shows
it), and sends it: by e-mail whole (HTML inline, PDF attached), by webhook as its headline and a
link. A report is sent once per channel whatever the number of notifiers, restarts or replays:

- one missed because no notifier ran at its time is sent when one comes back, marked late, if
  it was due within ``catch_up`` (older ones are recorded as skipped);
- one claimed by a notifier that died before recording it is taken over by the next to look;
- one a channel refused after every retry is tried again ``RETRY_AFTER`` later, while within
  ``catch_up``.

The links are the read API's ``/reports/<kind>/<first day>`` (and ``.pdf``), signed with the
token (``domain.reports.signature``): they open that report alone, without signing in.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg

from alerts.dispatch import Backoff
from alerts.errors import DeliveryError
from alerts.metrics import REPORT_LATE, REPORTS, REPORTS_CHECKED
from alerts.report_data import baselines, period_report
from alerts.report_ledger import NOTE, Claimed, Document, ReportLedger
from alerts.report_message import ReportMessage
from alerts.reports import as_json, pdf, png_plots, render
from core.database import connect, first_line
from core.errors import ConfigError, FillstreamError
from core.settings import Settings
from domain.alerts.rules import ReportRoutes
from domain.errors import TradingDayError
from domain.report_schedule import KINDS, due, late
from domain.reports import Period, day_period, headline, signature, week_period

log = logging.getLogger("fillstream.alerts")

CHECK_EVERY_SECONDS = 15.0
LATE_AFTER = timedelta(minutes=5)
"""A report sent more than this long after its time says it is late."""
RETRY_AFTER = timedelta(minutes=10)
"""A report a channel refused after every retry is tried again this long after."""
SKIPPED_HORIZON = timedelta(days=14)
"""How far beyond the catch-up window missed reports are looked for, to be recorded as
skipped (a notifier down for longer records nothing older)."""
STALE_SECONDS = 600.0
"""The scheduler is unhealthy when its loop has not come round for this long."""


class ReportChannel(Protocol):
    @property
    def name(self) -> str: ...

    def send_report(self, report: ReportMessage) -> None: ...


class ReportScheduler:
    """See the module docstring. ``run`` in a thread of its own until ``stop``."""

    def __init__(
        self,
        settings: Settings,
        routes: ReportRoutes,
        channels: Mapping[str, Any],
        *,
        check_every: float = CHECK_EVERY_SECONDS,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.routes = routes
        self.token = settings.require_token() if self.wanted else ""
        self.channels: dict[str, ReportChannel] = {}
        for kind in KINDS:
            for name in routes.routes(kind):
                channel = channels.get(name)
                if channel is None or not hasattr(channel, "send_report"):
                    raise ConfigError(
                        f"reports.{kind}", f"{name!r} is not an e-mail or webhook channel"
                    )
                self.channels[name] = channel
        self.link = routes.link or settings.api_url
        if self.wanted and routes.link is None:
            log.warning("scheduled reports: reports.link is not set; the reports' links point at "
                        "%s, which only this machine reaches", self.link)  # fmt: skip
        self.check_every = check_every
        self.backoff = backoff or Backoff(base=2.0, cap=30.0, attempts=4)
        self.clock = clock
        self.beat = time.monotonic()

    @property
    def wanted(self) -> bool:
        return bool(self.routes.daily or self.routes.weekly)

    @property
    def healthy(self) -> bool:
        """Its loop came round lately (it is not stuck)."""
        return time.monotonic() - self.beat < max(STALE_SECONDS, 4 * self.check_every)

    def run(self, stop: threading.Event) -> None:
        if not self.wanted:
            return
        while not stop.is_set():
            self.beat = time.monotonic()
            try:
                with connect(self.settings, autocommit=True, connect_timeout=10) as conn:
                    ledger = ReportLedger(conn)
                    since = {(kind, name): ledger.route(kind, name)
                             for kind in KINDS for name in self.routes.routes(kind)}  # fmt: skip
                    while not stop.is_set():
                        self.beat = time.monotonic()
                        self.tick(ledger, since, stop)
                        stop.wait(self.check_every)
            except (psycopg.Error, FillstreamError, OSError) as e:
                log.error("scheduled reports: %s; trying again in %gs", _reason(e),
                          self.check_every)  # fmt: skip
                stop.wait(self.check_every)

    def tick(
        self,
        ledger: ReportLedger,
        since: Mapping[tuple[str, str], datetime],
        stop: threading.Event,
    ) -> list[Claimed]:
        """Claim what is due and send it; the claims this round sent or tried."""
        now = self.clock()
        routes = self.routes
        claims = ledger.take_over(RETRY_AFTER, routes.catch_up)
        for claim in claims:
            log.info("scheduled reports: taking over the %s report of %s for %s", claim.kind,
                     claim.first, claim.channel)  # fmt: skip
        horizon = now - routes.catch_up - SKIPPED_HORIZON
        known = ledger.known((horizon - timedelta(days=7)).date())
        for (kind, name), first_seen in since.items():
            for report in due(kind, now, max(first_seen, horizon), delay=routes.delay,
                              catch_up=routes.catch_up, holidays=routes.holidays):  # fmt: skip
                first = report.period.first
                if (kind, first, name) in known:
                    continue
                if report.too_old:
                    if ledger.claim(kind, first, name, report.at, "skipped"):
                        REPORTS.labels(kind, name, "skipped").inc()
                        log.warning("scheduled reports: the %s report of %s for %s was due at %s,"
                                    " longer ago than reports.catch_up: skipped", kind, first,
                                    name, report.at)  # fmt: skip
                    continue
                if ledger.claim(kind, first, name, report.at, "pending"):
                    claims.append(Claimed(kind=kind, first=first, channel=name, due_at=report.at))
        documents: dict[tuple[str, Any], Document | None] = {}
        for claim in claims:
            if stop.is_set():
                break  # left pending: the next start takes them over
            key = (claim.kind, claim.first)
            if key not in documents:
                documents[key] = self._document(ledger, claim)
            document = documents[key]
            if document is None:
                ledger.record(claim, delivered=False, attempts=0, error="the report could not be"
                              " made (see the notifier's log)", late=False)  # fmt: skip
                REPORTS.labels(claim.kind, claim.channel, "failed").inc()
                continue
            self._send(ledger, claim, document, stop)
            self.beat = time.monotonic()
        REPORTS_CHECKED.set(time.time())
        return claims

    def links(self, kind: str, first: Any) -> tuple[str, str]:
        """The signed addresses of the report's page and PDF on the read API."""
        sig = signature(self.token, kind, first)
        page = f"{self.link}/reports/{kind}/{first}"
        return f"{page}?sig={sig}", f"{page}.pdf?sig={sig}"

    def render(self, period: Period) -> Document:
        """The documents of ``period``'s report."""
        routes = self.routes
        baseline = None
        if routes.baseline is not None:
            baseline = baselines(self.settings).get(routes.baseline)
            if baseline is None:
                log.warning("scheduled reports: no baseline named %r (reports.baseline); the "
                            "report is made without it", routes.baseline)  # fmt: skip
        report = period_report(self.settings, period, account=routes.account, baseline=baseline)
        link, pdf_link = self.links(period.kind, period.first)
        page = render(report, "html", pdf_link=pdf_link)
        pngs = png_plots(report)
        mail = render(report, "html", {name: f"cid:plot-{name}" for name in pngs},
                      link=link, pdf_link=pdf_link, note_slot=NOTE)  # fmt: skip
        return Document(
            kind=period.kind, first=period.first, last=period.last, title=period.title,
            headline=headline(report), html=page, mail_html=mail,
            images={f"plot-{name}": png for name, png in pngs.items()}, pdf=pdf(page),
            figures=as_json(report),
        )  # fmt: skip

    def _document(self, ledger: ReportLedger, claim: Claimed) -> Document | None:
        kept = ledger.document(claim.kind, claim.first)
        if kept is not None:
            return kept
        period = (day_period(claim.first) if claim.kind == "daily"
                  else week_period(f"{claim.first:%G-W%V}"))  # fmt: skip
        try:
            return ledger.keep(self.render(period))
        except (FillstreamError, TradingDayError, OSError, ValueError) as e:
            log.error("scheduled reports: the %s report of %s could not be made: %s",
                      claim.kind, claim.first, _reason(e))  # fmt: skip
            return None

    def _send(
        self, ledger: ReportLedger, claim: Claimed, document: Document, stop: threading.Event
    ) -> None:
        channel = self.channels.get(claim.channel)
        if channel is None:  # a route taken out of the file since it was claimed
            ledger.record(claim, delivered=False, attempts=0, late=False,
                          error="the channel is no longer in [reports]")  # fmt: skip
            return
        was_late = late(claim.due_at, self.clock(), LATE_AFTER)
        message = self.message(document, claim, was_late)
        attempts, error = 0, None
        while True:
            attempts += 1
            try:
                channel.send_report(message)
                break
            except DeliveryError as e:
                error = str(e)
            except Exception as e:  # a bug in a channel must not end the scheduler
                log.exception("%s: sending the %s report of %s failed unexpectedly",
                              claim.channel, claim.kind, claim.first)  # fmt: skip
                error = f"{claim.channel}: {type(e).__name__}: {e}"
            if attempts >= self.backoff.attempts:
                log.error("%s: the %s report of %s was not delivered after %d attempts (%s);"
                          " trying again in %s", claim.channel, claim.kind, claim.first,
                          attempts, error, RETRY_AFTER)  # fmt: skip
                ledger.record(claim, delivered=False, attempts=attempts, error=error, late=False)
                REPORTS.labels(claim.kind, claim.channel, "failed").inc()
                return
            if stop.wait(self.backoff.delay(attempts)):
                return  # left pending: taken over at the next start
        ledger.record(claim, delivered=True, attempts=attempts, error=None, late=was_late)
        REPORTS.labels(claim.kind, claim.channel, "delivered").inc()
        if was_late:
            REPORT_LATE.labels(claim.kind, claim.channel).inc()
        log.info("%s: the %s report of %s was delivered%s", claim.channel, claim.kind,
                 claim.first, " (late)" if was_late else "")  # fmt: skip

    def message(self, document: Document, claim: Claimed, was_late: bool) -> ReportMessage:
        link, pdf_link = self.links(document.kind, document.first)
        message = ReportMessage(
            kind=document.kind, first=document.first, last=document.last,
            title=document.title, headline=document.headline, html=document.mail_html,
            images=document.images, pdf=document.pdf, link=link, pdf_link=pdf_link,
            due_at=claim.due_at, late=was_late,
        )  # fmt: skip
        note = message.late_note
        slot = f'<p class="note">{html.escape(note)}</p>' if note else ""
        return replace(message, html=message.html.replace(NOTE, slot, 1))


def _reason(error: BaseException) -> str:
    return first_line(error) if isinstance(error, Exception) else str(error)
