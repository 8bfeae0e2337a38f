"""Scheduled reports on the real stack, over real sockets on loopback: a real SMTP server
(aiosmtpd) and a real HTTP receiver for the webhook, PostgreSQL for the ledger, the read API
for the links. Each report arrives once per channel: after the notifier is killed around the
close and two come back at once; a claim left by a dead notifier is taken over by one living
one only; missed reports come late and say so, old ones are skipped, failed ones retried."""

from __future__ import annotations

import email
import json
import re
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts import scheduled
from alerts.channels import channels_from_config
from alerts.dispatch import Backoff
from alerts.report_ledger import Claimed, ReportLedger
from alerts.scheduled import LATE_AFTER, ReportScheduler
from core.database import connect
from core.settings import Settings
from domain.alerts.rules import parse_rules
from domain.performance.figures import session_bounds, trading_day
from domain.report_schedule import due, late
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess, answered
from tests.fixtures.services import free_port, wait_for
from tests.integration.test_alerts import Hook, hook, serve_hook

pytestmark = pytest.mark.integration
__all__ = ["hook"]  # the webhook receiver, as the alerts' tests have it


@dataclass
class Inbox:
    """What a plain SMTP server on loopback received, parsed."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's naming)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    received = Inbox(free_port())
    controller = Controller(received, hostname="127.0.0.1", port=received.port)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


RULES = """
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {smtp}
security = "none"
sender = "fillstream@example.com"
recipients = ["desk@example.com"]

[channels.hook]
type = "webhook"
url = "http://127.0.0.1:{hook}/reports"

[reports]
daily = {daily}
{weekly}
delay = "{delay}s"
catch_up = "{catch_up}"
"""


LATER = """
[channels.later]
type = "webhook"
url = "http://127.0.0.1:{}/reports"
"""


def rules(
    inbox: Inbox,
    hook_port: int,
    delay: float,
    *,
    weekly: bool = False,
    catch_up: str = "3d",
    later: int | None = None,
) -> str:
    """The rules file: e-mail and webhook channels, and a ``later`` webhook on that port."""
    daily = ["mail", "hook"] + (["later"] if later is not None else [])
    text = RULES.format(smtp=inbox.port, hook=hook_port, delay=round(delay, 3),
                        weekly='weekly = ["mail"]' if weekly else "", catch_up=catch_up,
                        daily=json.dumps(daily))  # fmt: skip
    return text + (LATER.format(later) if later is not None else "")


def deliveries(settings: Settings) -> list[tuple[str, date, str, str, bool]]:
    with connect(settings, autocommit=True) as conn:
        return ReportLedger(conn).outcomes()


def checked_at(port: int) -> float:
    """The notifier's last finished look for reports due (its metric), 0 before the first."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    found = re.search(r"^fillstream_reports_checked_timestamp_seconds (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_the_daily_report_arrives_once_though_the_notifier_dies_before_the_close_and_two_return(
    settings: Settings,
    tmp_path: Path,
    inbox: Inbox,
    hook: Hook,
) -> None:
    now = datetime.now(UTC)
    last_close = session_bounds(trading_day(now))[0]
    # the report falls due 25 s from now: the delay after the close is set so
    delay = (now - last_close).total_seconds() + 25
    due_at = last_close + timedelta(seconds=delay)
    path = tmp_path / "alerts.toml"
    path.write_text(rules(inbox, hook.port, delay))
    settings = replace(settings, alert_rules=path, notify_port=free_port())
    first = ServiceProcess(settings, "notify", settings.notify_port).start()
    wait_for(lambda: checked_at(settings.notify_port) > 0, timeout=60,
             message=f"no look for reports:\n{first.log_tail()}")  # fmt: skip
    wait_for(lambda: datetime.now(UTC) >= due_at - timedelta(seconds=8), timeout=60)
    first.kill()  # before the close: nobody is there when the report falls due
    wait_for(lambda: datetime.now(UTC) >= due_at + timedelta(seconds=2), timeout=60)
    assert inbox.messages == [] and hook.bodies == [] and deliveries(settings) == []

    again = [ServiceProcess(replace(settings, notify_port=port), "notify", port)
             for port in (free_port(), free_port())]  # fmt: skip
    started = time.time()
    try:
        for notifier in again:
            notifier.start()
        wait_for(lambda: len(inbox.messages) >= 1 and len(hook.bodies) >= 1, timeout=90,
                 message="\n".join(n.log_tail() for n in again))  # fmt: skip
        # both notifiers have looked since: the one that lost the claim sent nothing
        wait_for(lambda: all(checked_at(n.health_port) > started for n in again), timeout=60)
    finally:
        for notifier in again:
            notifier.stop()
    day = trading_day(last_close - timedelta(seconds=1))
    assert deliveries(settings) == [("daily", day, "hook", "delivered", False),
                                    ("daily", day, "mail", "delivered", False)]  # fmt: skip
    (mail,) = inbox.messages
    assert mail["Subject"] == f"[fillstream] Daily summary, {day:%A %d %B %Y}"
    assert mail["Message-ID"] == f"<report.daily.{day}.mail@example.com>"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and f"Daily summary, {day:%A %d %B %Y}" in html.get_content()
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == f"daily-{day}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    (body,) = hook.bodies
    assert body["kind"] == "daily" and body["period"]["first"] == day.isoformat()
    assert body["late"] is False and body["headline"]["Trades"] == "0"
    assert body["url"].startswith(f"{settings.api_url}/reports/daily/{day}?sig=")


def test_a_claim_left_by_a_dead_notifier_is_taken_over_by_one_living_one(
    settings: Settings,
) -> None:
    migrate(settings)
    day, due_at = date(2025, 5, 15), datetime(2025, 5, 15, 22, 10, tzinfo=UTC)
    retry, window = timedelta(minutes=10), timedelta(days=100_000)
    dying = connect(settings, autocommit=True)
    living = [connect(settings, autocommit=True) for _ in range(2)]
    try:
        assert ReportLedger(dying).claim("daily", day, "mail", due_at, "pending")
        ledgers = [ReportLedger(conn) for conn in living]
        assert not ledgers[0].claim("daily", day, "mail", due_at, "pending")  # claimed once
        assert ledgers[0].take_over(retry, window) == []  # its notifier is alive
        dying.close()
        taken: list[Claimed] = []

        def look(ledger: ReportLedger) -> None:
            while not taken:
                taken.extend(ledger.take_over(retry, window))

        racing = [threading.Thread(target=look, args=(ledger,)) for ledger in ledgers]
        for thread in racing:
            thread.start()
        for thread in racing:
            thread.join(30)
        assert taken == [Claimed(kind="daily", first=day, channel="mail", due_at=due_at)]
        assert all(ledger.take_over(retry, window) == [] for ledger in ledgers)
        # a failed one comes back after the retry interval, while it is within the window
        claim = taken[0]
        ledgers[0].record(claim, delivered=False, attempts=4, error="down", late=False)
        assert ledgers[1].take_over(retry, window) == []
        assert ledgers[1].take_over(timedelta(0), timedelta(days=1)) == []  # too old by now
        assert ledgers[1].take_over(timedelta(0), window) == [claim]
        ledgers[1].record(claim, delivered=True, attempts=1, error=None, late=True)
        assert ledgers[0].outcomes() == [("daily", day, "mail", "delivered", True)]
    finally:
        for conn in living:
            conn.close()


def test_missed_reports_go_late_old_ones_are_skipped_failed_ones_retried_and_links_open(
    settings: Settings,
    inbox: Inbox,
    hook: Hook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    migrate(settings)
    down = free_port()  # a webhook nobody answers yet
    document = parse_rules(tomllib.loads(rules(inbox, hook.port, 600, weekly=True,
                                               catch_up="5d", later=down)))  # fmt: skip
    routes = document.reports
    channels = channels_from_config(document.channels, {})
    now = datetime.now(UTC)
    scheduler = ReportScheduler(settings, routes, channels, clock=lambda: now,
                                backoff=Backoff(base=0.0, attempts=2))  # fmt: skip
    stop = threading.Event()
    with connect(settings, autocommit=True) as conn:
        ledger = ReportLedger(conn)
        since = {}
        for kind in ("daily", "weekly"):
            for name in routes.routes(kind):
                conn.execute("INSERT INTO report_routes (kind, channel, since) VALUES (%s, %s, %s)",
                             (kind, name, now - timedelta(days=10)))  # fmt: skip
                since[(kind, name)] = ledger.route(kind, name)
        assert since[("daily", "mail")] == now - timedelta(days=10)  # the first sight stands
        scheduler.tick(ledger, since, stop)

        def expected(kind: str, name: str, outcome: str) -> list[tuple[Any, ...]]:
            return [(kind, d.period.first, name,
                     "skipped" if d.too_old else outcome,
                     not d.too_old and outcome == "delivered" and late(d.at, now, LATE_AFTER))
                    for d in due(kind, now, since[(kind, name)], delay=routes.delay,
                                 catch_up=routes.catch_up)]  # fmt: skip

        want = sorted(
            expected("daily", "hook", "delivered")
            + expected("daily", "mail", "delivered")
            + expected("daily", "later", "failed")
            + expected("weekly", "mail", "delivered")
        )
        assert ledger.outcomes() == want
        sent = [row for row in want if row[3] == "delivered"]
        # five days hold three sessions' closes at least, of which two are late by now
        assert len(inbox.messages) == len([r for r in sent if r[2] == "mail"]) >= 3
        assert len([r for r in sent if r[4]]) >= 4
        assert len(hook.bodies) == len([r for r in sent if r[2] == "hook"]) >= 1
        for message in inbox.messages:
            assert message["Subject"].endswith("(sent late)") == ("late" in message["Subject"])
            html = message.get_body(preferencelist=("html",))
            assert html is not None
            if message["Subject"].endswith("(sent late)"):
                assert "Sent late: this report was due at" in html.get_content()
            assert "fillstream:note" not in html.get_content()
        # nothing again, however often it looks
        scheduler.tick(ledger, since, stop)
        assert ledger.outcomes() == want and len(inbox.messages) == len(
            [r for r in sent if r[2] == "mail"])  # fmt: skip

        # the failing channel answers now: its reports go at the next retry
        late_hook = Hook(down)
        server = serve_hook(late_hook)
        try:
            monkeypatch.setattr(scheduled, "RETRY_AFTER", timedelta(0))
            scheduler.tick(ledger, since, stop)
        finally:
            server.shutdown()
        fresh = [row for row in expected("daily", "later", "failed") if row[3] == "failed"]
        assert len(late_hook.bodies) == len(fresh)
        assert {(k, f, c, o) for k, f, c, o, _ in ledger.outcomes() if c == "later"} == {
            (k, f, c, "delivered" if o == "failed" else o) for k, f, c, o, _ in
            expected("daily", "later", "failed")}  # fmt: skip

    # the links open the report alone, without the token, and nothing else
    api = ServiceProcess(settings, "api", settings.api_port).start()
    try:
        body = hook.bodies[-1]
        with urllib.request.urlopen(body["url"], timeout=10) as page:
            assert page.status == 200 and body["title"] in page.read().decode()
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        with urllib.request.urlopen(body["pdf_url"], timeout=10) as pdf:
            assert pdf.headers["Content-Type"] == "application/pdf"
            assert pdf.read().startswith(b"%PDF")
        tampered = body["url"][:-1] + ("0" if body["url"][-1] != "0" else "1")
        other_day = body["url"].replace(body["period"]["first"], "2020-01-06")
        for url in (tampered, other_day, body["url"].split("?")[0]):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url, timeout=10)
            assert refused.value.code == 401, url
        token = {"Authorization": f"Bearer {settings.token}"}
        listed = urllib.request.Request(f"{settings.api_url}/api/reports?kind=daily", headers=token)
        status, answer = answered(listed)
        assert status == 200
        assert {i["first"] for i in answer["items"]} == {
            r[1].isoformat() for r in sent if r[0] == "daily"}  # fmt: skip
        item = next(i for i in answer["items"] if i["first"] == body["period"]["first"])
        assert item["headline"] == body["headline"]
        assert {d["channel"] for d in item["deliveries"]} == {"hook", "mail", "later"}
    finally:
        api.stop()
