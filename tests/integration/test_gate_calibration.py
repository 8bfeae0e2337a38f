"""Confidence calibration end to end: an overconfident strategy's signals and trades through the
bridge and the pipeline; `fillstream gate calibrate` fits walk-forward on the signal_outcomes
view exactly what `walk_forward` fits on the outcomes that were sent, publishes the model, and the
gate then answers with the calibrated confidence and the model's id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from core.settings import Settings
from domain.gate.calibration import Model, Outcome, walk_forward
from fillstream.commands.gate import main as gate_main
from tests.fixtures.pipeline import execution, gate_loaded, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_gate import decide
from tests.integration.test_paper import iso
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

SIGNALS = 160


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def session(start: datetime) -> tuple[list[dict[str, Any]], list[Outcome]]:
    """Signals of an overconfident strategy (it wins 0.5 + 0.3 (c − 0.5) of the time), each
    traded once: what to post, and the outcomes they are."""
    rng = np.random.default_rng(11)
    events: list[dict[str, Any]] = []
    outcomes: list[Outcome] = []
    for n in range(SIGNALS):
        at = start + timedelta(hours=10 * n)
        confidence = round(float(rng.uniform(0.05, 0.95)), 3)
        won = bool(rng.random() < 0.5 + 0.3 * (confidence - 0.5))
        signal_id = f"cal-{n}"
        exit_at = at + timedelta(minutes=5)
        events += [
            {"type": "signal", "ts_event": iso(at), "source": "live", "producer": "tests",
             "signal_id": signal_id, "account": "Sim101", "instrument": "NQ 12-26",
             "strategy": "Cal", "direction": "long", "confidence": confidence},
            execution(f"{signal_id}-in", "buy", "21000", ts=iso(at + timedelta(seconds=10)),
                      signal_id=signal_id, strategy="Cal"),
            execution(f"{signal_id}-out", "sell", "21010" if won else "20990", ts=iso(exit_at),
                      signal_id=signal_id, strategy="Cal"),
        ]  # fmt: skip
        outcomes.append(Outcome(signal_time=at, known_time=exit_at, confidence=confidence,
                                won=won))  # fmt: skip
    return events, outcomes


def test_calibrate_fits_what_was_sent_publishes_it_and_the_gate_applies_it(
    settings: Settings,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    start = (datetime.now(UTC) - timedelta(days=75)).replace(microsecond=0)
    events, outcomes = session(start)
    for at in range(0, len(events), 300):
        assert post(settings, events[at : at + 300])[0] == 202
    wait_for(lambda: query(settings, "SELECT count(*) FROM signal_outcomes") == [(SIGNALS,)],
             timeout=120, message="the signals' outcomes projected")  # fmt: skip

    assert gate_main(["calibrate", "--json", "--dry-run"]) == 0
    (dry,) = json.loads(capsys.readouterr().out)
    assert gate_main(["calibrate", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["model_id"] == "cal-Cal-1" and dry["model_id"] == "cal-Cal-1"

    # what walk_forward makes of the outcomes sent (the calibrate ran a moment later)
    expected = walk_forward(outcomes, now=datetime.now(UTC))
    assert expected.model is not None
    assert (result["strategy"], result["regime"], result["outcomes"]) == ("Cal", None, SIGNALS)
    assert result["method"] == expected.model.method.value
    assert result["held_out"] == expected.held_out > 0
    assert result["brier_raw"] == pytest.approx(expected.raw_brier)
    assert result["brier_calibrated"] == pytest.approx(expected.calibrated_brier)
    assert result["ece_calibrated"] == pytest.approx(expected.calibrated_ece)
    assert result["reliability_raw"][0]["count"] == expected.raw_reliability[0].count

    # the bridge follows derived.calibration: the next decision uses the model
    wait_for(lambda: gate_loaded(settings), timeout=60, message="the gate did not read the log")
    model = Model(method=expected.model.method, thresholds_x=expected.model.thresholds_x,
                  thresholds_y=expected.model.thresholds_y, platt_a=expected.model.platt_a,
                  platt_b=expected.model.platt_b, fitted_at=expected.model.fitted_at,
                  trained_on=expected.model.trained_on)  # fmt: skip
    answer = wait_for(
        lambda: (a := decide(settings, strategy="Cal", confidence=0.9))["calibration_version"]
        and a, timeout=30, interval=0.5, message="the gate never applied the model",
    )  # fmt: skip
    assert answer["calibration_version"] == "cal-Cal-1"
    assert answer["calibrated_confidence"] == pytest.approx(model.apply(0.9))
    assert answer["calibrated_confidence"] < 0.9  # overconfident: calibrated down

    assert gate_main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "cal-Cal-2" in out and "calibration error" in out and "won (0 to 1)" in out
