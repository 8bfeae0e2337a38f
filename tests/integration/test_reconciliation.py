"""Position reconciliation end to end on the real services: executions and NinjaTrader's
position reports posted to the bridge, the worker's reconciliation stages publishing one drift
when the two disagree beyond the grace and its resolution when they agree again, the
``position_drift`` rule raising and resolving exactly one alert, the projection's open drifts,
and ``fillstream status`` showing the drift while it is open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT, Settings
from schemas.catalog import DERIVED_RECONCILIATION, STREAMS_RECONCILIATION_FEED
from schemas.codec import default_codec
from schemas.events import PositionChanged, PositionDrift
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_stage_rewind import read_all
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

RULES = """
[[rules]]
name = "drift"
type = "position_drift"
severity = "critical"
"""

CODEC = default_codec()


@pytest.fixture
def reconciling(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Pipeline]]:
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES)
    settings = replace(settings, alert_rules=rules, drift_grace_ms=1500)
    yield from ((settings, p) for p in running(settings))


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def position(market_position: str, quantity: int) -> dict[str, Any]:
    """NinjaTrader's report of Sim101's NQ position, as the AddOn posts it."""
    return {
        "type": "position", "ts_event": now(), "source": "live", "producer": "tests",
        "account": "Sim101", "instrument": "NQ 12-26", "market_position": market_position,
        "quantity": quantity, "average_price": "21000" if quantity else "0",
    }  # fmt: skip


def drifts(settings: Settings) -> list[PositionDrift]:
    found = []
    for _, value in read_all(settings, DERIVED_RECONCILIATION):
        event = CODEC.decode(value or b"")
        assert isinstance(event, PositionDrift)
        found.append(event)
    return found


def status(settings: Settings, *args: str) -> str:
    """``fillstream status``'s output (it exits 1 here: the stack's own services are not up)."""
    done = subprocess.run(
        [sys.executable, "-m", "fillstream", "status", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def alerts(settings: Settings) -> list[tuple[Any, ...]]:
    return query(
        settings, "SELECT key, state FROM alerts WHERE rule = 'drift' ORDER BY raised_at, state"
    )


def test_a_drift_raises_one_alert_and_resolves_when_the_positions_agree_again(
    reconciling: tuple[Settings, Pipeline],
) -> None:
    settings, _ = reconciling
    # one fill, matched; then NinjaTrader reports the same position: they agree
    assert post(settings, [execution("r-1", "buy", "21000", ts=now())])[0] == 202

    def copied() -> bool:
        return any(
            isinstance(CODEC.decode(value or b""), PositionChanged)
            for _, value in read_all(settings, STREAMS_RECONCILIATION_FEED)
        )

    wait_for(copied, timeout=90, interval=0.5, message="the derived position was not copied")
    assert post(settings, [position("long", 1)])[0] == 202

    # NinjaTrader reports a second contract whose fill never reached fillstream
    assert post(settings, [position("long", 2)])[0] == 202
    open_drift = "SELECT account, instrument, reported, derived FROM position_drifts_open"
    wait_for(
        lambda: query(settings, open_drift) == [("Sim101", "NQ 12-26", 2, 1)],
        timeout=60,
        interval=0.2,
        message="no open drift",
    )
    wait_for(
        lambda: alerts(settings) == [("account=Sim101 instrument=NQ 12-26", "raised")],
        timeout=60,
        interval=0.2,
        message="no alert raised",
    )
    shown = status(settings)
    assert "position drift" in shown
    line = next(row for row in shown.splitlines() if row.startswith("Sim101 NQ 12-26"))
    assert "2 long" in line and "1 long" in line
    (listed,) = json.loads(status(settings, "--json"))["drifts"]
    assert (listed["reported"], listed["derived"]) == (2, 1)

    # the missing fill arrives: they agree again, the drift and the alert resolve
    assert post(settings, [execution("r-2", "buy", "21001", ts=now())])[0] == 202
    wait_for(
        lambda: [d.resolved for d in drifts(settings)] == [False, True],
        timeout=60,
        interval=0.5,
        message="the drift did not resolve",
    )
    opened, resolved = drifts(settings)
    assert (opened.reported, opened.derived) == (2, 1)
    assert (resolved.reported, resolved.derived, resolved.since) == (2, 2, opened.since)
    wait_for(
        lambda: (
            alerts(settings)
            == [
                ("account=Sim101 instrument=NQ 12-26", "raised"),
                ("account=Sim101 instrument=NQ 12-26", "resolved"),
            ]
        ),
        timeout=60,
        interval=0.2,
        message="the alert did not resolve",
    )
    wait_for(lambda: query(settings, open_drift) == [], timeout=60, message="drift still open")
    assert "(none)" in next(
        part for part in status(settings).split("\n\n") if part.startswith("position drift")
    )
    assert query(settings, "SELECT count(*) FROM position_drifts") == [(2,)]
