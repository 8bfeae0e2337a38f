"""NinjaTrader end to end, on a real broker, bridge, worker, projector and PostgreSQL: the
sample strategy's golden stream (``tests/golden/ninjatrader-signals``, what the AddOn and
``FillstreamSignals`` post for a scripted morning) yields trades carrying their signal, variant
and NinjaTrader trade id; the sample experiment counts them per arm, its guardrail rolls it back
on the treatment's loss, the paper trades pair with them and every trade has its R-multiple."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.experiments import read_experiments
from bridge.parsing import parse_events
from core.settings import PROJECT_ROOT, Settings
from domain.contracts import spec_for
from domain.paper import FillModel, simulate
from fillstream.commands.experiments import main as experiments_main
from schemas.events import BarClosed, SignalEmitted
from tests.fixtures.pipeline import post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "ninjatrader-signals" / "sample_strategy.json"
EXPERIMENT = PROJECT_ROOT / "bridge" / "ninjatrader" / "samples" / "sample-wide-stop.toml"


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def assign(settings: Settings, signal_id: str, strategy: str) -> dict[str, Any]:
    """What the AddOn's background assignment asks the bridge for each signal."""
    request = urllib.request.Request(
        f"{settings.bridge_url}/v1/assignments",
        data=json.dumps({"signal_id": signal_id, "strategy": strategy}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_the_sample_strategy_stream_reaches_experiments_guardrails_paper_and_r(
    settings: Settings,
    pipeline: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    stream: list[dict[str, Any]] = json.loads(GOLDEN.read_text())
    signals = [e for e in stream if e["type"] == "signal"]
    executions = [e for e in stream if e["type"] == "execution"]
    assert len(signals) >= 2 and {s["variant"] for s in signals} == {"tight-stop", "wide-stop"}

    # the sample experiment, its drawdown guardrail below the treatment's loss: the daily loss
    # limit counts only trading days since the experiment began, and the golden morning is older
    config = tmp_path / "sample-wide-stop.toml"
    config.write_text(EXPERIMENT.read_text().replace("max_drawdown = 2000", "max_drawdown = 100"))
    assert "max_drawdown = 100" in config.read_text()
    assert experiments_main(["create", "--config", str(config), "--by", "tests"]) == 0

    def arms_served() -> bool:
        experiment: str | None = assign(settings, "probe", "FillstreamSample")["experiment"]
        return experiment == "sample-wide-stop"

    wait_for(arms_served, timeout=30, message="the bridge did not read the experiment")
    # the bridge gives each signal the variant the golden stream carries
    for signal in signals:
        answer = assign(settings, signal["signal_id"], signal["strategy"])
        assert answer["variant"] == signal["variant"], signal["signal_id"]

    status, body = post(settings, stream)
    assert status == 202, body

    # every live trade carries its signal, its variant and the strategy's trade id
    live = (
        "SELECT signal_id, variant, round_trip_id, r_multiple, risk, initial_stop, net_pnl"
        " FROM trades WHERE account = 'Sim101' AND source = 'live' ORDER BY entry_time"
    )
    wait_for(lambda: {r[0] for r in query(settings, live)} == {s["signal_id"] for s in signals},
             timeout=120, message=f"live trades: {query(settings, live)}")  # fmt: skip
    rows = query(settings, live)
    linked = {
        e["signal_id"]: (e["variant"], e["trade_id"]) for e in executions if e.get("signal_id")
    }
    assert {r[0]: (r[1], r[2]) for r in rows} == linked
    stops = {s["signal_id"]: Decimal(s["intended_stop"]) for s in signals}
    for signal_id, _, _, r_multiple, risk, initial_stop, net in rows:
        assert initial_stop == stops[signal_id]
        assert risk > 0 and r_multiple == pytest.approx(net / risk, abs=Decimal("1e-9"))

    # the experiment counts them per arm
    count = "SELECT arm, count(*) FROM experiment_trades GROUP BY arm"
    wait_for(lambda: sum(n for _, n in query(settings, count)) == len(rows), timeout=60,
             message=f"experiment trades: {query(settings, count)}")  # fmt: skip
    capsys.readouterr()
    assert experiments_main(["show", "sample-wide-stop", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    per_variant = {
        "control": sum(1 for r in rows if r[1] == "tight-stop"),
        "treatment": sum(1 for r in rows if r[1] == "wide-stop"),
    }
    assert {arm: shown[arm]["trades"] for arm in per_variant} == per_variant

    # the treatment's loss breaches the daily loss limit: the guard rolls the experiment back
    def rolled_back() -> bool:
        return read_experiments(settings)[0].get("sample-wide-stop").ended is True

    wait_for(rolled_back, timeout=90, message="the guardrail did not roll the experiment back")
    experiment = read_experiments(settings)[0].get("sample-wide-stop")
    assert (experiment.status, experiment.changed_by) == ("rolled_back", "guardrail")
    assert "wide-stop drew down 148.36, beyond the guardrail of 100" in experiment.reason

    # the same signals traded on paper pair with the live trades, as the fill model says
    events = parse_events(stream, ts_ingested=datetime.now(UTC), producer="tests")
    bars = [e for e in events if isinstance(e, BarClosed)]
    model = FillModel(slippage_ticks=settings.paper_slippage_ticks,
                      commission_per_contract=settings.paper_commission)  # fmt: skip
    expected = {}
    for event in events:
        if isinstance(event, SignalEmitted):
            mine = [b for b in bars if b.instrument == event.instrument]
            paper = simulate(event, mine, spec_for(event.instrument), model)
            if paper is not None and paper.exit is not None:
                expected[event.signal_id] = paper.net_pnl
    assert expected, "the golden bars close no paper trade"
    pairs = "SELECT signal_id, paper_net_pnl FROM paper_comparison WHERE account = 'Sim101'"
    wait_for(lambda: len(query(settings, pairs)) == len(expected), timeout=120,
             message=f"paper pairs: {query(settings, pairs)}")  # fmt: skip
    assert dict(query(settings, pairs)) == expected
