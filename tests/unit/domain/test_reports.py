"""The period reports' figures: ISO weeks, what falls in the period, running experiments,
availability over days, and the plots' series against the tables' figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.baselines import Traded, figures, period_bounds
from domain.performance.figures import TradeResult, summarize
from domain.reports import build, day_period, headline, reliability, series, week_period
from schemas.events import (
    Envelope,
    EventId,
    ExperimentAction,
    ExperimentChanged,
    PhaseAction,
    PhaseChanged,
)

DAY = date(2025, 5, 16)  # a Friday
START, END = period_bounds(DAY, DAY)


def traded(minutes: int, net: str, strategy: str | None = "ORB", account: str = "A1") -> Traded:
    at = START + timedelta(minutes=minutes)
    return Traded(result=TradeResult(exit_time=at, net=Decimal(net), gross=Decimal(net),
                                     trade_id=f"t-{minutes}", currency="USD"),
                  revision=0, account=account, strategy=strategy)  # fmt: skip


def envelope(at: datetime) -> Envelope:
    return Envelope(event_id=EventId(f"e-{at.timestamp()}"), ts_event=at, ts_ingested=at,
                    producer="test")  # fmt: skip


def experiment(name: str, action: ExperimentAction, at: datetime) -> ExperimentChanged:
    changed = ExperimentChanged(envelope=envelope(at), experiment_id=name, action=action,
                                actor="t")  # fmt: skip
    if action is not ExperimentAction.CONFIGURED:
        return changed
    return replace(changed, strategy=f"S-{name}", control_variant="a", treatment_variant="b",
                   ramp=(10, 100))  # fmt: skip


TRADES = [traded(10, "100"), traded(20, "-150"), traded(30, "40", strategy=None),
          traded(40, "75", account="A2")]  # fmt: skip


def test_an_iso_week_is_its_monday_to_its_friday() -> None:
    week = week_period("2025-W20")
    assert (week.first, week.last) == (date(2025, 5, 12), date(2025, 5, 16))
    assert week.title == "Weekly review, 2025-W20 (2025-05-12 to 2025-05-16)"
    assert day_period(DAY).title == "Daily summary, Friday 16 May 2025"
    with pytest.raises(ValueError, match="not an ISO week"):
        week_period("2025-20")


def test_the_report_holds_what_falls_in_the_period_and_what_still_runs() -> None:
    before, inside = START - timedelta(days=2), START + timedelta(hours=3)
    report = build(
        day_period(DAY), TRADES,
        phases=[PhaseChanged(envelope=envelope(before), phase="p1", action=PhaseAction.STARTED),
                PhaseChanged(envelope=envelope(inside), phase="p2", action=PhaseAction.STARTED)],
        experiments=[experiment("x1", ExperimentAction.CONFIGURED, before),
                     experiment("x2", ExperimentAction.CONFIGURED, before),
                     experiment("x2", ExperimentAction.ROLLED_BACK, inside),
                     experiment("x3", ExperimentAction.CONFIGURED, END + timedelta(hours=1))],
        uptime=[("worker", DAY, Decimal(86000), Decimal(86400)),
                ("worker", DAY - timedelta(days=1), Decimal(86400), Decimal(86400)),
                ("bridge", DAY, Decimal(80000), Decimal(86400))],
        start=START, end=END,
    )  # fmt: skip
    assert (report.trades, report.net_profit) == (4, Decimal(65))
    assert report.scopes == figures(TRADES)
    assert [p.phase for p in report.phases] == ["p2"]
    assert [(e.experiment_id, e.action) for e in report.experiments] == [
        ("x2", ExperimentAction.ROLLED_BACK)]  # fmt: skip
    assert report.running == ("x1",)
    worker = next(a for a in report.availability if a.service == "worker")
    assert worker.availability == pytest.approx(172400 / 172800) and worker.days == 2
    assert worker.meets_target and not report.availability[0].meets_target  # bridge: 92.6 %
    assert report.pipeline == report.availability[0]  # the least available service: bridge


def test_the_plots_series_agree_with_the_tables() -> None:
    s = series(TRADES)
    assert [v for _, v in s.equity] == [Decimal(100), Decimal(-50), Decimal(-10), Decimal(65)]
    assert max(v for _, v in s.drawdown) == summarize([t.result for t in TRADES]).max_drawdown
    assert s.daily == ((DAY, Decimal(65)),)
    assert dict(s.by_strategy) == {"ORB": Decimal(25), "(none)": Decimal(40)}
    assert series([]).equity == ()


def test_the_reliability_diagram_bins_the_confidence_by_tenths() -> None:
    def with_confidence(n: int, net: str, confidence: float) -> Traded:
        return replace(traded(n, net), confidence=confidence)

    trades = [with_confidence(1, "10", 0.62), with_confidence(2, "-5", 0.68),
              with_confidence(3, "7", 0.91), with_confidence(4, "3", 1.0),
              traded(5, "4")]  # fmt: skip
    (low, low_won, low_n), (high, high_won, high_n) = reliability(trades)
    assert low == pytest.approx(0.65) and (low_won, low_n) == (0.5, 2)
    assert high == pytest.approx(0.955) and (high_won, high_n) == (1.0, 2)  # 1.0: the last bin
    assert series(trades).calibration == reliability(trades)
    assert reliability([traded(1, "5")]) == ()


def test_paper_trades_are_apart_from_the_headline_and_the_plots() -> None:
    shadow = [traded(50, "500", account="PAPER:A1"), traded(60, "-20", account="PAPER:A1")]
    report = build(day_period(DAY), sorted(TRADES + shadow, key=lambda t: t.result.exit_time),
                   start=START, end=END)  # fmt: skip
    assert (report.trades, report.net_profit) == (4, Decimal(65))  # the live accounts' only
    assert (report.paper_trades, report.paper_net_profit) == (2, Decimal(480))
    assert report.series == series(TRADES)
    assert dict(headline(report))["Trades"] == "4"
    assert any(f.scope_key == "PAPER:A1" for f in report.scopes)  # still shown, by name
