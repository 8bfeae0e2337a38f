"""Trades exports count, end to end on a real broker, worker, projector and PostgreSQL: the real
1,191-trade Trades export imports into the ``trades`` and ``performance`` views (its net equal to
NinjaTrader's own ``Cum. net profit``), imported again nothing changes, and a trade known both
from executions and from a Trades export counts once, the derived one."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.settings import Settings
from domain.baselines import period_bounds
from fillstream.commands import imports as cmd_import
from fillstream.commands.baseline import main as baseline_main
from fillstream.commands.report import main as report_main
from tests.fixtures.ntsamples import TOPSTEP, data
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

HEADER = (
    "Trade number,Instrument,Account,Strategy,Market pos.,Qty,Entry price,Exit price,Entry time,"
    "Exit time,Entry name,Exit name,Profit,Cum. net profit,Commission,MAE,MFE,ETD,Bars,"
)


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(replace(settings, imported_trades=True))


def imported(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code = cmd_import.main(["trades", *argv], settings=settings)
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    return out


def test_the_real_trades_export_counts_in_trades_and_performance(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    export = data(TOPSTEP)
    last = export.read_text().strip().splitlines()[-1].split(",")
    cumulative = Decimal(last[13].replace("$", "").replace("(", "-").replace(")", ""))
    imported(settings, capsys, str(export))
    totals = "SELECT count(*), sum(net_pnl), min(source), max(source), max(revision) FROM trades"
    expected = [(1191, cumulative, "import", "import", 0)]
    wait_for(lambda: query(settings, totals) == expected, timeout=180,
             message=f"imported trades: {query(settings, totals)}")  # fmt: skip
    per_account = "SELECT account, count(*), sum(net_pnl) FROM trades GROUP BY 1 ORDER BY 1"
    figures = (
        "SELECT scope_key, trades, net_profit FROM performance WHERE scope = 'account'"
        " AND time_window = 'all_time' ORDER BY 1"
    )
    wait_for(lambda: query(settings, figures) == query(settings, per_account), timeout=120,
             message=f"performance {query(settings, figures)}")  # fmt: skip
    mae = "SELECT count(*) FROM trades WHERE mae IS NULL OR mfe IS NULL OR fees IS NULL"
    assert query(settings, mae) == [(0,)]

    out = imported(settings, capsys, str(export))
    assert out[-1].endswith(": 0 new, 1191 already in the log; published 0")
    assert query(settings, totals) == expected


def test_a_trade_known_from_executions_and_from_an_export_counts_once(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fills = [
        execution("e-in", "buy", "21000", ts="2026-09-22T13:35:00Z"),
        execution("e-out", "sell", "21010", ts="2026-09-22T13:40:00Z"),
    ]
    status, body = post(settings, fills)
    assert status == 202, body
    export = tmp_path / "trades.csv"
    export.write_text("\n".join([
        HEADER,
        "1,NQ 12-26,Sim101,,Long,1,21000.00,21010.00,9/22/2026 1:35:00 PM,9/22/2026 1:40:00 PM,"
        ",Close,$195.82,$195.82,$4.18,$0.00,$200.00,$4.18,0,",
        "2,NQ 12-26,Sim101,,Long,1,21000.00,21005.00,9/22/2026 2:35:00 PM,9/22/2026 2:40:00 PM,"
        ",Close,$100.00,$295.82,$0.00,$0.00,$100.00,$0.00,0,",
    ]) + "\n")  # fmt: skip
    imported(settings, capsys, str(export), "--tz", "UTC")
    rows = "SELECT source, round(net_pnl, 2) FROM trades ORDER BY entry_time"
    expected = [("live", Decimal("195.82")), ("import", Decimal("100.00"))]
    wait_for(lambda: query(settings, rows) == expected, timeout=120,
             message=f"trades: {query(settings, rows)}")  # fmt: skip
    figures = (
        "SELECT trades, round(net_profit, 2) FROM performance WHERE scope = 'account'"
        " AND scope_key = 'Sim101' AND time_window = 'all_time'"
    )
    wait_for(lambda: query(settings, figures) == [(2, Decimal("295.82"))], timeout=60,
             message=f"performance: {query(settings, figures)}")  # fmt: skip
    # the imported twin is voided (at revision 0, or 1 if it came before the derived trade),
    # naming the derived trade that covers it
    covered = (
        "SELECT t.covered_by = live.trade_id FROM trades_v1 t"
        " JOIN trades live ON live.source = 'live' WHERE t.source = 'import' AND t.voided"
    )
    assert query(settings, covered) == [(True,)]


def test_a_baseline_frozen_from_an_imported_export_equals_the_sql_over_the_trades_view(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    imported(settings, capsys, str(data(TOPSTEP)))
    count = "SELECT count(*) FROM trades"
    wait_for(lambda: query(settings, count) == [(1191,)], timeout=180,
             message=f"imported trades: {query(settings, count)}")  # fmt: skip
    freeze = ["freeze", "first-half-may", "--from", "2025-05-01", "--to", "2025-05-15",
              "--note", "before the new exits"]  # fmt: skip
    assert baseline_main(freeze, settings=settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("froze 'first-half-may': ")

    start, end = period_bounds(date(2025, 5, 1), date(2025, 5, 15))
    by_account = query(
        settings,
        "SELECT account, count(*), sum(net_pnl), count(*) FILTER (WHERE net_pnl > 0),"
        " count(*) FILTER (WHERE net_pnl < 0) FROM trades"
        " WHERE exit_time >= %s AND exit_time < %s GROUP BY 1 ORDER BY 1",
        (start, end),
    )
    assert baseline_main(["show", "first-half-may", "--json"], settings=settings) == 0
    shown = json.loads(capsys.readouterr().out)
    accounts = [f for f in shown["figures"] if f["scope"] == "account"]
    assert [(f["scope_key"], f["trades"], Decimal(f["net_profit"]), f["wins"], f["losses"])
            for f in accounts] == by_account  # fmt: skip
    assert shown["trades"] == sum(row[1] for row in by_account) > 0
    assert shown["note"] == "before the new exits" and shown["from"] == "2025-05-01"

    assert baseline_main(["list"], settings=settings) == 0
    assert "first-half-may  2025-05-01  2025-05-15  all" in capsys.readouterr().out
    assert baseline_main(freeze, settings=settings) == 1  # a name is frozen once
    assert "frozen once" in capsys.readouterr().err
    assert baseline_main(["show", "nope"], settings=settings) == 1
    empty = ["freeze", "quiet", "--from", "2024-01-02", "--to", "2024-01-05"]
    assert baseline_main(empty, settings=settings) == 1
    assert "no trade from 2024-01-02 to 2024-01-05" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        baseline_main(["freeze", "x", "--from", "2025-05-01", "--to", "2025-05-02",
                       "--scope", "desk=3"], settings=settings)  # fmt: skip
    assert bad.value.code == 2
    assert "a scope is account=…, strategy=…, variant=…" in capsys.readouterr().err

    # the report against it: the figures now equal the SQL over the same view
    later = ["baseline", "first-half-may", "--from", "2025-05-16", "--to", "2025-05-23"]
    assert report_main([*later, "--format", "json"], settings=settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["baseline_trades_changed"] is False
    start, end = period_bounds(date(2025, 5, 16), date(2025, 5, 23))
    now = dict(
        (account, (trades, wins / (wins + losses) if wins + losses else None))
        for account, trades, wins, losses in query(
            settings,
            "SELECT account, count(*), count(*) FILTER (WHERE net_pnl > 0),"
            " count(*) FILTER (WHERE net_pnl < 0) FROM trades"
            " WHERE exit_time >= %s AND exit_time < %s GROUP BY 1",
            (start, end),
        )
    )
    for scope in report["scopes"]:
        win_rate = next(c for c in scope["comparisons"] if c["metric"] == "win_rate")
        trades, rate = now.get(scope["key"], (0, None))
        assert win_rate["current_trades"] == trades
        assert win_rate["current"] == (pytest.approx(rate) if rate is not None else None)
        assert win_rate["baseline"] == pytest.approx(scope["frozen"]["win_rate"])
    for kind, suffix in (("markdown", ".md"), ("html", ".html")):
        assert report_main([*later, "--format", kind], settings=settings) == 0
        written = Path(capsys.readouterr().out.strip())
        assert written.suffix == suffix and written.parent == settings.home / "reports"
        text = written.read_text()
        assert "Performance against the baseline" in text and "first-half-may" in text
        assert all(scope["key"] in text for scope in report["scopes"])
        assert "maximum drawdown" in text and ("not met" in text or "met" in text)
    assert report_main([*later, "--format", "pdf"], settings=settings) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.suffix == ".pdf" and written.read_bytes().startswith(b"%PDF")
    first_page = ["pdftotext", "-f", "1", "-l", "1", str(written), "-"]
    page = subprocess.run(first_page, capture_output=True, text=True, check=True, timeout=60).stdout
    page = " ".join(page.split())  # the PDF's line breaks aside
    assert "Performance against the baseline" in page and "first-half-may" in page
    assert "maximum drawdown" in page and "risk-adjusted returns" in page


def test_the_daily_and_weekly_reports_equal_the_sql_and_the_pdf_renders(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    imported(settings, capsys, str(data(TOPSTEP)))
    count = "SELECT count(*) FROM trades"
    wait_for(lambda: query(settings, count) == [(1191,)], timeout=180,
             message=f"imported trades: {query(settings, count)}")  # fmt: skip
    by_account = (
        "SELECT account, count(*), sum(net_pnl) FROM trades"
        " WHERE exit_time >= %s AND exit_time < %s GROUP BY 1 ORDER BY 1"
    )
    assert report_main(["daily", "--date", "2025-05-16", "--format", "json"],
                       settings=settings) == 0  # fmt: skip
    daily = json.loads(capsys.readouterr().out)
    rows = query(settings, by_account, period_bounds(date(2025, 5, 16), date(2025, 5, 16)))
    accounts = [(f["scope_key"], f["trades"], Decimal(f["net_profit"]))
                for f in daily["scopes"] if f["scope"] == "account"]  # fmt: skip
    assert accounts == rows and len(rows) > 0
    assert daily["trades"] == sum(r[1] for r in rows)
    assert Decimal(daily["net_profit"]) == sum(r[2] for r in rows)
    assert daily["period"] == {"kind": "daily", "first": "2025-05-16", "last": "2025-05-16"}

    week = period_bounds(date(2025, 5, 12), date(2025, 5, 16))
    net = query(settings, "SELECT sum(net_pnl) FROM trades WHERE exit_time >= %s"
                " AND exit_time < %s", week)[0][0]  # fmt: skip
    out = tmp_path / "week.pdf"
    argv = ["weekly", "--week", "2025-W20", "--format", "pdf", "--out", str(out)]
    assert report_main(argv, settings=settings) == 0
    assert capsys.readouterr().out.strip() == str(out)
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(out), "-"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "Weekly review, 2025-W20 (2025-05-12 to 2025-05-16)" in first_page
    assert f"Net P&L: {net:,.2f}" in first_page
    assert "What was completed" in first_page
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-png", "-r", "40", str(out),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    assert (tmp_path / "page-1.png").stat().st_size > 1000

    assert report_main(["weekly", "--week", "2025-W20", "--format", "markdown"],
                       settings=settings) == 0  # fmt: skip
    markdown = Path(capsys.readouterr().out.strip())
    text = markdown.read_text()
    assert text.startswith("# Weekly review, 2025-W20")
    assert "![equity](weekly-2025-05-12-equity.svg)" in text
    assert (markdown.parent / "weekly-2025-05-12-equity.svg").read_text().startswith("<svg")
    with pytest.raises(SystemExit):
        report_main(["weekly", "--week", "2025-20"], settings=settings)
    assert "not an ISO week" in capsys.readouterr().err
