"""What ``fillstream import`` prints: the report for people and for machines, and progress."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bridge.imports import parse_executions, parse_trades, reconcile
from bridge.imports.outcome import FileResult, Outcome
from bridge.imports.parsed import encoded
from bridge.imports.report import render_text, to_json
from core.progress import ProgressLine, describe, duration
from core.settings import Settings
from schemas.codec import default_codec
from tests.fixtures.ntsamples import EXECUTIONS, TOPSTEP, data, read_export, stand_in

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)


def executions_export() -> str:
    """The Executions export standing in for the real one (``tests/data``)."""
    return read_export(stand_in(EXECUTIONS))


SETTINGS = Settings.from_env({})


def outcome(text: str | None = None, **changes: object) -> Outcome:
    """The report of ``text`` (the Executions export by default)."""
    result = parse_executions(text or executions_export(), tz=NEW_YORK, ts_ingested=NOW)
    base = Outcome(
        kind="executions",
        topic="fillstream.raw.executions",
        tz="America/New_York",
        files=(FileResult(path="grid.csv", parsed=encoded(result, SETTINGS, default_codec())),),
        dry_run=True,
        refused=bool(result.rejected),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_dry_run_shows_counts_first_rows_and_what_would_be_published() -> None:
    text = render_text(outcome())
    lines = text.splitlines()
    assert lines[0] == (
        "grid.csv: 21 rows, 21 valid, 0 rejected (month-first dates, times in America/New_York)"
    )
    assert lines[2:6] == [
        "account            instrument  executions",
        "APEX4471020000011  NQ JUN26             6",
        "APEX4471020000012  NQ JUN26             6",
        "Sim101             MNQ JUN26            9",
    ]
    assert "grid.csv:2  2026-02-17 14:58:14  Sim101   MNQ JUN26   buy     7  24810.25" in text
    assert lines[-1] == (
        "dry run: nothing published; 21 events would go to fillstream.raw.executions, "
        "less those already in the log"
    )


def test_rejected_rows_are_listed_and_refuse_the_import() -> None:
    bad = executions_export().replace(",24799.25,", ",x,", 1)
    report = outcome(bad, dry_run=False)
    text = render_text(report)
    assert "  grid.csv:6  Price: must be a number with '.' before the decimals, was 'x'" in text
    assert text.endswith(
        "refused: 1 rejected rows; nothing was published "
        "(fix them, or pass --skip-invalid to publish the valid rows)"
    )
    document = to_json(report)
    assert document["refused"] is True and document["files"][0]["valid"] == 20
    assert document["files"][0]["rejected"] == [
        {"line": 6, "field": "Price", "reason": "must be a number with '.' before the decimals, "
         "was 'x'"}
    ]  # fmt: skip


def test_a_published_import_says_what_was_new() -> None:
    report = outcome(dry_run=False, new=54, already_in_log=1, published=54)
    assert render_text(report).splitlines()[-1] == (
        "fillstream.raw.executions: 54 new, 1 already in the log; published 54"
    )
    assert json.loads(json.dumps(to_json(report)))["already_in_log"] == 1


def test_the_reconciliation_lists_each_difference() -> None:
    trades = parse_trades(read_export(data(TOPSTEP)), tz=NEW_YORK, ts_ingested=NOW)
    executions = parse_executions(executions_export(), tz=NEW_YORK, ts_ingested=NOW).events
    rec = reconcile(executions, trades.events)  # a different day: nothing pairs
    report = outcome(
        reconciliation=rec,
        reconciled_with=FileResult(
            path="trades.csv", parsed=encoded(trades, SETTINGS, default_codec())
        ),
    )
    text = render_text(report)
    assert (
        "reconciliation with trades.csv: 1191 NinjaTrader trades, 0 paired, 0 mismatches, "
        "12 derived trades without a NinjaTrader row, "
        "1191 NinjaTrader rows without a derived trade"
    ) in text
    assert "... 1141 more (--json lists all)" in text
    document = to_json(report)["reconciliation"]
    assert document["ok"] is False and len(document["unmatched_theirs"]) == 1191
    assert document["unmatched_ours"][0]["net_pnl"] == str(rec.unmatched_ours[0].net_pnl)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_quiet_for_short_work_and_throttled_for_long_work() -> None:
    clock, log = Clock(), io.StringIO()
    progress = ProgressLine("reading a.csv", stream=log, clock=clock)
    for done in range(1, 101):
        clock.now = done * 0.004  # done in 0.4 s: nothing shown
        progress(done, 100)
    progress.close()
    assert log.getvalue() == ""

    progress = ProgressLine("reading b.csv", stream=log, clock=clock)
    clock.now = 0.0
    for done in range(1, 3001):
        clock.now = done * 0.001  # 3 s at 1,000 rows/s, not a terminal: a line a second
        progress(done, 3000)
    progress.close()
    assert log.getvalue().splitlines() == [
        "reading b.csv: 501/3,000 rows (16%), 1,000 rows/s, 2s left",  # after half a second
        "reading b.csv: 1,501/3,000 rows (50%), 1,000 rows/s, 1s left",
        "reading b.csv: 2,502/3,000 rows (83%), 1,000 rows/s, 0s left",
        "reading b.csv: 3,000/3,000 rows (100%), 1,000 rows/s",
    ]


def test_progress_on_a_terminal_redraws_one_line_at_most_ten_times_a_second() -> None:
    clock, terminal = Clock(), Terminal()
    progress = ProgressLine("publishing", "events", stream=terminal, clock=clock)
    for done in range(1, 2001):
        clock.now = done * 0.001
        progress(done, 2000)
    progress.close()
    output = terminal.getvalue()
    assert output.count("\r\x1b[K") <= 2 * 10 + 1 and output.endswith("(100%), 1,000 events/s\n")


def test_rates_and_durations() -> None:
    assert describe("x", "rows", 0, 0, 0.0) == "x: 0/0 rows, 0 rows/s"
    assert duration(7.4) == "7s" and duration(185) == "3m05s" and duration(3720) == "1h02m"
