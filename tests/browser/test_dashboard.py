"""User acceptance tests of the dashboard, in Chromium against the real stack: executions posted
through the bridge, the page read as a trader reads it. Every figure shown equals the SQL
view's; a trade posted while the page is open appears within a second; an alert is a toast and
a browser notification; nothing is served without the token; a silence made in the page is the
CLI's and the notifier honours it; axe-core finds no serious violation on any panel, in either
theme; each panel is photographed in both themes and on a phone."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from confluent_kafka import Producer
from playwright.sync_api import Browser, Page, expect

from alerts.channels import channels_from_config
from alerts.report_ledger import ReportLedger
from alerts.scheduled import ReportScheduler
from api.openapi import document
from core.database import connect
from core.kafka import producer_config
from core.settings import Settings
from domain.alerts.rules import parse_rules
from domain.performance.figures import session_bounds, trading_day
from schemas.catalog import DERIVED_ALERTS, record_headers
from schemas.codec import default_codec
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity, schema_name
from tests.browser.conftest import AXE, artifact
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_alerts import Hook, fillstream, hook, notifier, outcomes, with_rules
from tests.integration.test_gate import decide
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration
__all__ = ["hook"]  # the webhook fixture, for the notifier

AXE_RUN = """async () => {
    const found = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']});
    return found.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                       target: v.nodes[0].target.join(' ')}));
}"""
PANELS = {"trades": "Trades", "performance": "Performance", "monitor": "Monitor",
          "reports": "Reports"}  # fmt: skip


def session(start: datetime, count: int) -> list[dict[str, Any]]:
    """``count`` round trips in NQ on two accounts, two minutes apart, and one left open."""
    fills = []
    for n in range(count):
        account = "Sim101" if n % 2 else "Apex-1"
        at = start + timedelta(minutes=2 * n)
        fills.append(execution(f"in-{n}", "buy", "21000.25", ts=iso(at), account=account))
        fills.append(execution(f"out-{n}", "sell", str(21000 + n % 7), account=account,
                               ts=iso(at + timedelta(seconds=50))))  # fmt: skip
    fills.append(execution("open-1", "buy", "21003", account="Sim101",
                           ts=iso(start + timedelta(hours=2))))  # fmt: skip
    return fills


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def login(page: Page, settings: Settings, panel: str = "trades") -> None:
    page.goto(f"{settings.api_url}/login?token={settings.token}")
    expect(page).to_have_url(f"{settings.api_url}/")  # the token left the address bar
    expect(page.get_by_test_id("live")).to_have_text("● live")
    if panel != "trades":
        page.get_by_role("tab", name=PANELS[panel]).click()
        expect(page).to_have_url(f"{settings.api_url}/{panel}")


def alert(
    settings: Settings, rule: str, key: str, labels: dict[str, str], severity: Severity
) -> None:
    """An alert raised, as the worker's alert stage publishes it."""
    at = datetime.now(UTC)
    raised = AlertChanged(
        envelope=Envelope(event_id=EventId(f"ui|{rule}|{key}"), ts_event=at, ts_ingested=at,
                          producer="tests"),
        rule=rule, key=key, state=AlertState.RAISED, severity=severity,
        summary=f"{key}: {rule}", raised_at=at, labels=labels,
    )  # fmt: skip
    producer = Producer(producer_config(settings))
    headers: list[tuple[str, str | bytes | None]] = [
        *record_headers(schema_name(raised), f"ui|{rule}|{key}")
    ]
    producer.produce(settings.topic(DERIVED_ALERTS), key=f"{rule}|{key}".encode(),
                     value=default_codec().encode(raised), headers=headers)  # fmt: skip
    assert producer.flush(10) == 0


def shown(page: Page, selector: str) -> dict[str, str]:
    """``data-figure`` → ``data-value`` of the figures under ``selector``."""
    pairs: list[list[str]] = page.eval_on_selector_all(
        f"{selector} [data-figure]",
        "els => els.map(e => [e.dataset.figure, e.dataset.value])",
    )
    return dict((name, value) for name, value in pairs)


def test_nothing_is_served_without_the_token_and_the_login_url_sets_the_cookie(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess], page: Page
) -> None:
    # every path of the OpenAPI document, and the page itself, refuse a request without it
    for path, operations in document()["paths"].items():
        concrete = path.replace("{id}", "x").replace("{action}", "pause")
        for method in operations:
            request = urllib.request.Request(
                f"{settings.api_url}{concrete}",
                method=method.upper(),
                data=b"{}" if method == "post" else None,
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 401, (method, path)
    response = page.goto(f"{settings.api_url}/")
    assert response is not None and response.status == 401
    expect(page.get_by_text("Open the login URL")).to_be_visible()
    assert page.request.get(f"{settings.api_url}/api/trades").status == 401

    login(page, settings)
    (cookie,) = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("fillstream_token", True,
                                                                         "Strict")  # fmt: skip
    assert settings.require_token() not in page.url
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
    # a change from another origin is refused, even with the cookie
    other = page.request.post(f"{settings.api_url}/api/kill-switch/kill", data={"reason": "x"},
                              headers={"Origin": "http://127.0.0.1:1"})  # fmt: skip
    assert other.status == 403


def test_every_figure_the_panels_show_is_the_views(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess], page: Page
) -> None:
    start = datetime(2026, 9, 25, 21, 50, tzinfo=UTC)  # 16:50 in Chicago: two trading days
    assert post(settings, session(start, 9))[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(9,)]
             and query(settings, "SELECT count(*) FROM positions") == [(1,)], timeout=90,
             message="the trades and the position were not projected")  # fmt: skip
    login(page, settings)

    # the totals, against SQL over the trades view
    (row,) = query(settings, """
        SELECT count(*), sum(net_pnl), round(count(*) FILTER (WHERE net_pnl > 0)::numeric
               / nullif(count(*) FILTER (WHERE net_pnl <> 0), 0), 6), sum(commission + fees)
        FROM trades""")  # fmt: skip
    count, net, win_rate, costs = row
    expect(page.locator("[data-figure=trades]")).to_have_attribute("data-value", str(count))
    figures = shown(page, "section[aria-label=Totals]")
    assert Decimal(figures["net_pnl"]) == net and Decimal(figures["costs"]) == costs
    assert Decimal(figures["win_rate"]) == win_rate
    assert page.locator("[data-figure=net_pnl] .value").inner_text() == f"{net:,.2f}".replace(
        "-", "−"
    )

    # the calendar's days, against the trades view grouped by trading day
    days: dict[str, Decimal] = {}
    for exit_time, pnl in query(settings, "SELECT exit_time, net_pnl FROM trades"):
        day = trading_day(exit_time).isoformat()
        days[day] = days.get(day, Decimal(0)) + pnl
    calendar = page.get_by_test_id("calendar")
    expect(calendar.locator("button[data-day]")).to_have_count(len(days))
    for day, total in days.items():
        assert (
            Decimal(calendar.locator(f"[data-day='{day}']").get_attribute("data-value") or "")
            == total
        )
    # a day clicked filters every figure to it
    monday = calendar.locator("[data-day='2026-09-28']")
    monday.click()
    expect(monday).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-figure=net_pnl]")).to_have_attribute(
        "data-value", str(days["2026-09-28"])
    )

    # P&L by account, against SQL
    monday.click()
    page.get_by_label("Group by").select_option("account")
    by_account = dict(query(settings, "SELECT account, sum(net_pnl) FROM trades GROUP BY account"))
    table = page.get_by_test_id("breakdown-table")
    for account, total in by_account.items():
        cell = table.locator(f"tr[data-key='{account}'] [data-value]")
        expect(cell).to_have_attribute("data-value", str(total))

    # the open position, marked
    ((unrealized,),) = query(settings, "SELECT unrealized_pnl FROM positions")
    expect(page.get_by_test_id("positions").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("positions").locator("[data-value]")).to_have_attribute(
        "data-value", "" if unrealized is None else str(unrealized)
    )

    # the trade table: every trade, newest first; sorted by net P&L; a trade's detail by keyboard
    rows = page.get_by_test_id("trade-table").locator("[data-trade-id]")
    expect(rows).to_have_count(9)
    newest = [
        t
        for (t,) in query(
            settings, "SELECT trade_id FROM trades ORDER BY exit_time DESC, trade_id DESC"
        )
    ]
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.tradeId)") == newest
    page.get_by_role("columnheader", name="Net P&L").get_by_role("button").click()
    by_pnl = [
        t
        for (t,) in query(
            settings, "SELECT trade_id FROM trades ORDER BY net_pnl DESC, trade_id DESC"
        )
    ]
    expect(rows.first).to_have_attribute("data-trade-id", by_pnl[0])
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.tradeId)") == by_pnl
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()  # the next row, by the arrow key
    page.keyboard.press("Enter")
    detail = page.get_by_role("dialog", name=f"Trade {by_pnl[1]}")
    expect(detail).to_be_visible()
    ids = query(settings, "SELECT execution_ids FROM trades WHERE trade_id = %s", (by_pnl[1],))[0][
        0
    ]
    for execution_id in ids:
        expect(detail.get_by_test_id("lineage")).to_contain_text(execution_id)
    expect(detail.get_by_test_id("lineage")).to_contain_text("raw.executions")
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()

    # the performance figures per account, against the performance view
    page.get_by_role("tab", name="Performance").click()
    wanted = query(settings, "SELECT scope_key, trades, net_profit FROM performance"
                             " WHERE scope = 'account' AND time_window = 'all_time'")  # fmt: skip
    table = page.get_by_test_id("performance-table")
    expect(table.locator("tbody tr")).to_have_count(len(wanted))
    for account, trades, net_profit in wanted:
        line = table.locator(f"tr[data-scope-key='{account}']")
        expect(line.locator("[data-figure=trades]")).to_have_attribute("data-value", str(trades))
        expect(line.locator("[data-figure=net_profit]")).to_have_attribute(
            "data-value", str(net_profit)
        )
    definition = table.locator("abbr", has_text="Win rate").get_attribute("title") or ""
    assert "wins / (wins + losses)" in definition and "definitions v1" in definition

    # the pre-trade gate: a decision asked at the bridge, as the decisions view holds it
    answer = decide(settings, signal_id="gate-browser-1", account="Sim101")
    wait_for(lambda: query(settings, "SELECT decision FROM decisions") == [(answer["decision"],)],
             timeout=60, message="the decision was not projected")  # fmt: skip
    page.reload()
    page.get_by_role("tab", name="Performance").click()
    gate = page.get_by_test_id("gate")
    expect(gate.get_by_role("row", name="gate-browser-1")).to_contain_text(answer["decision"])
    expect(gate.get_by_role("row", name="(the gate)")).to_contain_text("0/1")

    # the services, as their latest checks say
    page.get_by_role("tab", name="Monitor").click()
    services = {s for (s,) in query(settings, "SELECT DISTINCT service FROM service_checks")}
    assert {"bridge", "worker", "projector"} <= services
    for service in services - {"rebuild"}:
        expect(
            page.get_by_test_id("services").locator(f"tr[data-service='{service}']")
        ).to_have_count(1)
    latest = "SELECT figures->>'errors_total' FROM service_checks WHERE service = 'worker'"
    ((dead,),) = query(settings, latest + " ORDER BY ts_event DESC LIMIT 1")
    expect(page.get_by_test_id("errors")).to_contain_text(f"worker: dead letters{float(dead):g}")


def test_a_trade_appears_within_a_second_and_an_alert_is_a_toast_and_a_notification(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess], browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["notifications"], origin=settings.api_url)
    context.add_init_script("""
        window.__notified = [];
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.__notified.push(title); }
        };
        Object.defineProperty(window.Notification, 'permission', { get: () => Real.permission });
    """)  # fmt: skip
    page = context.new_page()
    try:
        login(page, settings)
        expect(page.get_by_test_id("trade-table").locator("[data-trade-id]")).to_have_count(0)
        at = datetime(2026, 9, 29, 14, tzinfo=UTC)
        assert post(settings, [
            execution("live-in", "buy", "21000", ts=iso(at)),
            execution("live-out", "sell", "21004", ts=iso(at + timedelta(seconds=30))),
        ])[0] == 202  # fmt: skip
        projected = wait_for(lambda: query(settings, "SELECT trade_id FROM trades") or None,
                             timeout=90, interval=0.02, message="not projected")  # fmt: skip
        seen_at = time.monotonic()
        ((trade_id,),) = projected
        page.locator(f"[data-trade-id='{trade_id}']").wait_for(timeout=5_000)
        took = time.monotonic() - seen_at
        assert took < 1.0, f"the trade took {took:.2f} s to appear after it was projected"
        expect(page.locator("[data-figure=trades]")).to_have_attribute("data-value", "1")

        raised = time.monotonic()
        alert(settings, "daily_loss", "account=Sim101", {"account": "Sim101"}, Severity.CRITICAL)
        wait_for(lambda: query(settings, "SELECT count(*) FROM alerts_active") == [(1,)],
                 timeout=30, interval=0.02, message="the alert was not projected")  # fmt: skip
        projected_at = time.monotonic()
        toast = page.get_by_role("alert").filter(has_text="daily_loss")
        toast.wait_for(timeout=10_000)
        shown = time.monotonic()
        took = shown - projected_at
        assert took < 1.0, f"the toast took {took:.2f} s after the alert was projected"
        # from the event on the log (the projector's batch, then the feed): the 2 s
        assert shown - raised < 2.0, f"the toast took {shown - raised:.2f} s after the alert"
        expect(toast).to_contain_text("account=Sim101")
        assert page.evaluate("window.__notified") == ["fillstream: daily_loss"]
    finally:
        context.close()


def test_a_silence_made_in_the_page_is_the_clis_and_the_notifier_honours_it(
    settings: Settings, tmp_path: Path, hook: Hook, page: Page
) -> None:
    settings = with_rules(settings, tmp_path, hook)
    for _ in running(settings):
        api = ServiceProcess(settings, "api", settings.api_port).start()
        notify = notifier(settings).start()
        try:
            alert(settings, "lag", "service=worker instance=e:5",
                  {"service": "worker", "instance": "e:5"}, Severity.WARNING)  # fmt: skip
            login(page, settings, "monitor")
            active = page.get_by_test_id("alerts-active").locator("tr[data-rule='lag']")
            expect(active).to_have_count(1)
            page.get_by_label("Silence for").select_option("14400")
            active.get_by_role("button", name="Silence lag").click()
            dialog = page.get_by_role("dialog", name="Silence lag?")
            expect(dialog).to_contain_text("instance=e:5")
            dialog.get_by_label("Reason").fill("maintenance")
            dialog.get_by_test_id("confirm").click()
            expect(dialog).to_be_hidden()
            expect(page.get_by_test_id("silences").locator("tr[data-silence]")).to_have_count(1)

            listed = json.loads(fillstream(settings, "alerts", "silences", "--json"))
            assert [(s["matchers"], s["created_by"], s["comment"]) for s in listed] == [
                (
                    {"rule": "lag", "service": "worker", "instance": "e:5"},
                    "dashboard",
                    "maintenance",
                )
            ]
            ends = datetime.fromisoformat(listed[0]["ends_at"])
            assert timedelta(hours=3, minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=4)
            # the notifier holds back what the silence matches: the alert raised again
            alert(settings, "lag", "service=worker instance=e:5 again",
                  {"service": "worker", "instance": "e:5"}, Severity.WARNING)  # fmt: skip
            wait_for(lambda: "silenced" in [o[3] for o in outcomes(settings)], timeout=60,
                     message=f"not held back: {outcomes(settings)}")  # fmt: skip
            assert hook.alerts("lag") == [] or all(
                a["key"] != "service=worker instance=e:5 again" for a in hook.alerts("lag")
            )
        finally:
            notify.stop()
            api.stop()


def test_the_reports_panel_shows_each_scheduled_report_as_sent_with_the_views_figures(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess], page: Page, hook: Hook
) -> None:
    start = datetime(2026, 9, 22, 14, tzinfo=UTC)  # a Tuesday's session
    assert post(settings, session(start, 6))[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(6,)], timeout=90,
             message="the trades were not projected")  # fmt: skip
    rules = parse_rules({"channels": {"desk": {"type": "webhook",
                                               "url": f"http://127.0.0.1:{hook.port}/r"}},
                         "reports": {"daily": ["desk"]}})  # fmt: skip
    channels = channels_from_config(rules.channels, {})
    due_at = session_bounds(date(2026, 9, 22))[1] + rules.reports.delay
    scheduler = ReportScheduler(settings, rules.reports, channels,
                                clock=lambda: due_at + timedelta(minutes=1))  # fmt: skip
    with connect(settings, autocommit=True) as conn:
        conn.execute("INSERT INTO report_routes (kind, channel, since) VALUES (%s, %s, %s)",
                     ("daily", "desk", due_at - timedelta(days=1)))  # fmt: skip
        ledger = ReportLedger(conn)
        scheduler.tick(ledger, {("daily", "desk"): ledger.route("daily", "desk")},
                       threading.Event())  # fmt: skip
    (sent,) = hook.bodies
    first, last = session_bounds(date(2026, 9, 22))
    ((count, net),) = query(settings, "SELECT count(*), sum(net_pnl) FROM trades"
                            " WHERE exit_time >= %s AND exit_time < %s", (first, last))  # fmt: skip
    assert sent["headline"]["Trades"] == str(count) == "6"
    assert sent["headline"]["Net P&L"] == f"{net:,.2f}"

    login(page, settings, "reports")
    row = page.locator("[data-report='daily|2026-09-22']")
    expect(row).to_be_visible()
    for name, value in sent["headline"].items():
        expect(row.locator(f"[data-figure='{name}']")).to_have_attribute("data-value", value)
    expect(row.locator("[data-channel=desk]")).to_have_text("desk: delivered")
    assert row.get_by_role("link", name="PDF").get_attribute("href") == \
        "/reports/daily/2026-09-22.pdf"  # fmt: skip
    row.get_by_role("button", name="Open").click()
    frame = page.frame_locator("[data-testid=report-frame]")
    expect(frame.get_by_role("heading", level=1)).to_have_text(sent["title"])
    expect(frame.get_by_text(f"Net P&L: {net:,.2f}")).to_be_visible()
    page.screenshot(path=artifact("reports-open.png"), full_page=True)
    pdf = page.request.get(f"{settings.api_url}/reports/daily/2026-09-22.pdf")  # the cookie
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    page.get_by_label("Kind").select_option("weekly")
    expect(page.get_by_test_id("no-reports")).to_be_visible()


def test_no_panel_has_a_serious_accessibility_violation_and_each_is_photographed(
    settings: Settings, stack: tuple[Pipeline, ServiceProcess], browser: Browser
) -> None:
    start = datetime(2026, 9, 22, 14, tzinfo=UTC)
    assert post(settings, session(start, 6))[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades") == [(6,)], timeout=90,
             message="the trades were not projected")  # fmt: skip
    alert(settings, "drawdown", "account=Sim101", {"account": "Sim101"}, Severity.WARNING)
    themes: tuple[Literal["dark", "light"], ...] = ("dark", "light")
    for theme in themes:
        # axe-core is added as a script of the page's own, which its Content-Security-Policy
        # forbids
        context = browser.new_context(viewport={"width": 1280, "height": 800},
                                      color_scheme=theme, bypass_csp=True)  # fmt: skip
        page = context.new_page()
        try:
            photograph(page, settings, theme)
        finally:
            context.close()


def photograph(page: Page, settings: Settings, theme: str) -> None:
    """Each panel in ``theme``, checked by axe-core and photographed; then on a phone."""
    login(page, settings)
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    for panel in PANELS:
        if panel != "trades":
            page.get_by_role("tab", name=PANELS[panel]).click()
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(AXE_RUN)
        serious = [v for v in found if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{panel} ({theme}): {serious}"
        page.screenshot(path=artifact(f"{panel}-{theme}.png"), full_page=True)
    # on a phone: nothing wider than the screen but the tables that scroll
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Trades").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifact(f"trades-{theme}-phone.png"), full_page=True)
