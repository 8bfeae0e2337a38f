"""The docs' benchmark report keeps each benchmark's last result."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import Result, merge


def result(name: str, value: float) -> Result:
    return Result(
        name=name, value=value, unit="/s", baseline=1.0, baseline_name="", ratio=value,
        goal="report", met=True,
    )  # fmt: skip


def test_a_run_replaces_what_it_measured_and_keeps_the_rest_in_order(tmp_path: Path) -> None:
    path = tmp_path / "docs" / "report.json"
    merge([result("ingest", 1), result("derive", 2), result("latency", 3)], path)
    merge([result("derive", 20), result("alerts", 4)], path)
    rows = json.loads(path.read_text())
    assert [(r["name"], r["value"]) for r in rows] == [
        ("ingest", 1), ("derive", 20), ("latency", 3), ("alerts", 4),
    ]  # fmt: skip
