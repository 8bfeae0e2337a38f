"""Rendering a period report with every section filled: HTML with its plots, Markdown, JSON and
a PDF whose text (pdftotext: make setup installs poppler-utils) shows the headline figures;
nothing computed on the way (the numbers shown are the report's)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alerts.reports import as_json, pdf, render
from bridge.experiments import change_event
from domain.baselines import Filter, Traded, freeze, period_bounds
from domain.experiments.guardrails import Decision, TreatmentFigures
from domain.experiments.model import ExperimentSpec
from domain.performance.figures import TradeResult
from domain.reports import (
    Accuracy,
    AlertRow,
    Lag,
    Report,
    Response,
    build,
    critical,
    week_period,
)
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
    assert "The pipeline (its least available service, worker): 100.0%" in html
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


def test_health_shows_accuracy_and_lag_and_next_shows_decisions_and_guardrails() -> None:
    spec = ExperimentSpec(experiment_id="exits-v2", strategy="ORB", control_variant="v1",
                          treatment_variant="v2", min_trades_per_step=2, min_days_per_step=1,
                          max_drawdown=Decimal(1000), daily_loss_limit=Decimal(500))  # fmt: skip
    configured = change_event("exits-v2", ExperimentAction.CONFIGURED, actor="t",
                              at=START - timedelta(days=2), spec=spec)  # fmt: skip
    days = {WEEK.first: Decimal(-100), WEEK.last: Decimal(40)}
    figures = [TreatmentFigures(account="Sim101", max_drawdown=Decimal(800), day_net=days)]
    r = build(
        WEEK, TRADES, start=START, end=END, experiments=[configured],
        accuracy=[Accuracy(projection="trades", accuracy=0.9995, rows=2000.0, at=START,
                           meets_target=True),
                  Accuracy(projection="positions", accuracy=0.98, rows=50.0, at=START,
                           meets_target=False)],
        lag=[Lag(service="worker", checks=12, worst=4200.0, median=3.0)],
        treatment={"exits-v2": figures}, step_trades={"exits-v2": {"control": 3, "treatment": 2}},
    )  # fmt: skip
    (upcoming,) = r.upcoming
    assert upcoming.due and upcoming.next.decision is Decision.PROMOTE
    assert [(g.guardrail, g.share, g.near) for g in upcoming.guardrails] == [
        ("max_drawdown", 0.8, True), ("daily_loss_limit", 0.2, False)]  # fmt: skip
    html = render(r, "html")
    for text in ("<td>trades</td><td>99.95%</td><td>2000</td>", "<td>positions</td><td>98.00%",
                 "<td>worker</td><td>4200</td><td>3</td><td>12</td>", "exits-v2 (ORB)",
                 "3 / 2 of 2", "due: promote", "800.00 of 1,000.00", "80.0%, near its limit",
                 "100.00 of 500.00"):  # fmt: skip
        assert text in html, text
    markdown = render(r, "markdown")
    assert "**due for a decision: promote**" in markdown and "**near its limit**" in markdown
    assert "data accuracy, positions: 98.00% of 50 rows" in markdown
    assert "consumer lag, worker: worst 4200 records, median 3 (12 health checks)" in markdown
    # nothing running: said so; no health check: no pipeline figure
    quiet = build(WEEK, TRADES, start=START, end=END)
    assert "No experiment running." in render(quiet, "html") and quiet.pipeline is None


def test_paper_trades_are_named_apart_in_the_headline() -> None:
    shadow = replace(traded(60, "500"), account="PAPER:Sim101")
    r = build(WEEK, [*TRADES, shadow], start=START, end=END)
    html = render(r, "html")
    assert (
        'Net P&amp;L: <b>1,405.50</b> <span class="paper">(and on paper: 1 trades, net 500.00)'
        in html
    )
    assert "(and on paper: 1 trades, net 500.00)" in render(r, "markdown")
