"""Rendering a period report with every section filled: HTML with its plots, Markdown, JSON and
a PDF whose text (pdftotext: make setup installs poppler-utils) shows the headline figures;
nothing computed on the way (the numbers shown are the report's)."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alerts.reports import as_json, pdf, render
from domain.baselines import Filter, Traded, freeze, period_bounds
from domain.performance.figures import TradeResult
from domain.reports import AlertRow, Report, Response, build, critical, week_period
from schemas.events import (
    Envelope,
    EventId,
    ExperimentAction,
    ExperimentChanged,
    PhaseAction,
    PhaseChanged,
)

WEEK = week_period("2025-W20")
START, END = period_bounds(WEEK.first, WEEK.last)


def traded(hours: int, net: str, strategy: str = "ORB") -> Traded:
    return Traded(result=TradeResult(exit_time=START + timedelta(hours=hours), net=Decimal(net),
                                     gross=Decimal(net), trade_id=f"t-{hours}", currency="USD"),
                  revision=0, account="Sim101", strategy=strategy, confidence=0.6)  # fmt: skip


def envelope(at: datetime) -> Envelope:
    return Envelope(event_id=EventId("e"), ts_event=at, ts_ingested=at, producer="test")


TRADES = [traded(h, n, s) for h, n, s in ((2, "250.5", "ORB"), (20, "-120", "MR"),
                                          (30, "75", "ORB"), (50, "1200", "MR"))]  # fmt: skip
ALERTS = [
    AlertRow(rule="dd", key="account=Sim101", severity="critical", raised_at=START,
             resolved_at=START + timedelta(minutes=90), summary="drawdown", resolution="back"),
    AlertRow(rule="lag", key="worker", severity="warning", raised_at=START,
             resolved_at=None, summary="lagging", resolution=None),
]  # fmt: skip


def report() -> Report:
    baseline = freeze("before", date(2025, 5, 5), date(2025, 5, 9),
                      [traded(h - 120, n) for h, n in ((1, "50"), (3, "-60"), (5, "80"))],
                      scope=Filter(), envelope=envelope(START), actor="t")  # fmt: skip
    return build(
        WEEK, TRADES, alerts=ALERTS, start=START, end=END,
        phases=[PhaseChanged(envelope=envelope(START + timedelta(hours=1)), phase="ml",
                             action=PhaseAction.STARTED)],
        experiments=[ExperimentChanged(envelope=envelope(START + timedelta(hours=3)),
                                       experiment_id="exits", action=ExperimentAction.PROMOTED,
                                       actor="t")],
        uptime=[("worker", WEEK.first, Decimal(86400), Decimal(86400))],
        responses=[Response(channel="email", day=WEEK.first, deliveries=3, p50_seconds=2.5,
                            p99_seconds=41.0, meets_target=False)],
        baseline=baseline,
        baseline_trades=[traded(h - 120, n) for h, n in ((1, "50"), (3, "-60"), (5, "80"))],
    )  # fmt: skip


def test_critical_failures_and_their_time_to_resolve() -> None:
    found = critical(ALERTS)
    assert (found.raised, found.resolved) == (1, 1)
    assert found.mean_to_resolve == found.longest_to_resolve == timedelta(minutes=90)


def test_every_section_renders_in_html_markdown_and_json() -> None:
    r = report()
    html = render(r, "html")
    assert html.count("<svg") == 3  # equity, by strategy, calibration (one day: no daily bars)
    for text in ("Weekly review, 2025-W20", "Net P&amp;L: <b>1,405.50</b>", "<svg",
                 "ml started", "exits promoted", "dd account=Sim101", "still raised",
                 "Critical failures: 1 raised, 1 resolved (in 1 h 30 min on average",
                 "41.00 s", "not met", "Performance versus the baseline", "Sim101|MR"):  # fmt: skip
        assert text in html, text
    markdown = render(r, "markdown", {"equity": "w-equity.svg"})
    assert "![equity](w-equity.svg)" in markdown and "| Sim101|ORB | 2 |" in markdown
    document = json.loads(json.dumps(as_json(r)))
    assert document["net_profit"] == "1405.5"
    assert document["critical"]["mean_to_resolve"] == 5400.0


def test_the_pdf_shows_the_headline_figures(tmp_path: Path) -> None:
    written = tmp_path / "week.pdf"
    written.write_bytes(pdf(render(report(), "html")))
    assert written.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(written), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "Weekly review, 2025-W20" in text and "1,405.50" in text
