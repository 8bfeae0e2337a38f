"""NinjaTrader end to end, on a real broker, bridge, worker, projector and PostgreSQL: the
sample strategy's golden stream (``tests/golden/ninjatrader-signals``, what the AddOn and
``FillstreamSignals`` post for a scripted morning) yields trades carrying their signal, variant
and NinjaTrader trade id; the sample experiment counts them per arm, its guardrail rolls it back
on the treatment's loss, the paper trades pair with them and every trade has its R-multiple. The
back office's amendments and removals of executions, as the AddOn posts them, reach the trades
view, the performance figures and the corrections report."""

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


def addon(kind: str, at: str, execution_id: str, **fields: Any) -> dict[str, Any]:
    """One event as the AddOn posts it (the shape of ``tests/golden/ninjatrader``)."""
    return {"type": kind, "ts_event": at, "source": "live",
            "producer": "fillstream-nt8-addon/0.1.0", "execution_id": execution_id,
            "account": "Sim101", "instrument": "ES 12-26", **fields}  # fmt: skip


def fill(at: str, execution_id: str, side: str, price: str, effect: str) -> dict[str, Any]:
    return addon("execution", at, execution_id, side=side, quantity=1, price=price,
                 commission="1.29", fees="0", order_id=f"o-{execution_id}",
                 order_number=f"n-{execution_id}", order_name="Manual",
                 position_effect=effect)  # fmt: skip


def test_an_amended_and_a_removed_execution_flow_from_the_addon_to_the_views(
    settings: Settings, pipeline: Pipeline
) -> None:
    """The back office amends one trade's exit and removes both fills of another: the AddOn's
    execution_corrected and execution_busted reach the log through the bridge, matching publishes
    the revised and the voided trade, and the trades view, the performance figures and the
    corrections report follow, as worked out by hand (ES: 50 a point, 1.29 a side)."""
    session = [
        fill("2026-09-22T14:30:00Z", "a-in", "buy", "5755.25", "entry"),
        fill("2026-09-22T14:40:00Z", "a-out", "sell", "5760", "exit"),
        fill("2026-09-22T15:00:00Z", "b-in", "buy", "5758", "entry"),
        fill("2026-09-22T15:10:00Z", "b-out", "sell", "5750", "exit"),
    ]
    status, body = post(settings, session)
    assert status == 202, body
    net = (
        "SELECT round(net_pnl, 2), revision FROM trades WHERE account = 'Sim101'"
        " ORDER BY entry_time"
    )
    first = [(Decimal("234.92"), 0), (Decimal("-402.58"), 0)]  # 4.75 * 50 - 2.58; -8 * 50 - 2.58
    wait_for(lambda: query(settings, net) == first, timeout=120,
             message=f"trades before the corrections: {query(settings, net)}")  # fmt: skip

    amendments = [
        addon("execution_corrected", "2026-09-22T21:45:00Z", "a-out", side="sell", quantity=1,
              price="5761", commission="1.29", fees="0.35", executed_at="2026-09-22T14:40:00Z",
              order_id="o-a-out", order_number="n-a-out"),
        addon("execution_busted", "2026-09-22T21:46:00Z", "b-out"),
        addon("execution_busted", "2026-09-22T21:46:01Z", "b-in"),
    ]  # fmt: skip
    status, body = post(settings, amendments)
    assert status == 202, body

    # 5.75 * 50 - 2.58 - 0.35: the amended exit's price and exchange fees; the other trade voided
    after = [(Decimal("284.57"), 1)]
    wait_for(lambda: query(settings, net) == after, timeout=120,
             message=f"trades after the corrections: {query(settings, net)}")  # fmt: skip
    figures = (
        "SELECT trades, round(net_profit, 2) FROM performance WHERE scope = 'account'"
        " AND scope_key = 'Sim101' AND time_window = 'all_time'"
    )
    wait_for(lambda: query(settings, figures) == [(1, Decimal("284.57"))], timeout=60,
             message=f"performance: {query(settings, figures)}")  # fmt: skip
    lineage = ("SELECT corrected_execution_id, correction_kind, voided, round(net_pnl_change, 2)"
               " FROM trade_corrections ORDER BY voided")  # fmt: skip
    explained = [
        ("a-out", "corrected", False, Decimal("49.65")),
        ("b-out", "busted", True, Decimal("402.58")),
    ]  # (the corrections behind them are projected apart: execution_corrections)
    wait_for(lambda: query(settings, lineage) == explained, timeout=60,
             message=f"trade corrections: {query(settings, lineage)}")  # fmt: skip
    # the position is flat again: both of the removed trade's fills are gone
    flat = "SELECT quantity FROM positions WHERE account = 'Sim101' AND instrument = 'ES 12-26'"
    wait_for(lambda: [q for (q,) in query(settings, flat)] in ([0], []), timeout=60,
             message=f"position: {query(settings, flat)}")  # fmt: skip
