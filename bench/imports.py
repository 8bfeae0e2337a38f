"""Historical import (``fillstream import executions``) against a plain confluent-kafka producer."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.ingest import START, executions, raw_producer_rate
from bench.report import Result
from bridge.imports import parse_executions
from core.kafka import ensure_topics
from core.settings import Settings
from fillstream.commands import imports as cmd_import
from schemas.events import ExecutionReported
from tests.fixtures.ntexports import CANONICAL, render_executions

NEW_YORK = ZoneInfo("America/New_York")


def export_file(directory: Path, rows: int) -> Path:
    """A NinjaTrader Executions grid export of ``rows`` fills, as the real ones are formatted."""
    from bridge.parsing import parse_events

    events = parse_events(executions(rows, "imp"), ts_ingested=START, producer="bench")
    fills = [e for e in events if isinstance(e, ExecutionReported)]
    path = directory / "executions.csv"
    path.write_text(render_executions(fills, CANONICAL, NEW_YORK))
    return path


def run(settings: Settings, directory: Path) -> list[Result]:
    # a namespace of its own: the other benchmarks' records would inflate the duplicate check
    settings = dataclasses.replace(settings, namespace="benchimport")
    ensure_topics(settings)
    rows = 50_000
    path = export_file(directory, rows)
    parsed = parse_executions(path.read_text(), tz=NEW_YORK, ts_ingested=START)
    assert len(parsed.events) == rows and not parsed.rejected
    baseline = raw_producer_rate(settings, executions(rows, "rawimp"))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = cmd_import.main(["executions", str(path), "--tz", "America/New_York"], settings)
    elapsed = time.perf_counter() - started
    assert status == 0, status
    value = rows / elapsed
    return [
        Result(
            name="import executions (CSV to Kafka)",
            value=value,
            unit="rows/s",
            baseline=baseline,
            baseline_name="plain confluent-kafka producer, same encoded payloads",
            ratio=value / baseline,
            goal=">= 50 % of the plain producer",
            met=value / baseline >= 0.5,
        )
    ]
