"""Shadow mode end to end, on a real broker, bridge, worker, projector and PostgreSQL: a signal
with a stop and a target is paper-traded on the bars, its paper executions flow through matching
and performance into the PAPER: account, and the comparison view sets it beside the live trade;
in a root only the AddOn's definition makes known, even when the definition comes after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.settings import Settings
from domain.contracts import ContractSpec, spec_for
from domain.paper import FillModel, simulate
from schemas.events import BarClosed, Direction, Envelope, EventId, SignalEmitted
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

START = datetime(2026, 9, 22, 14, tzinfo=UTC)
CLOSES = ["21000", "21001", "21003", "21002", "21005", "21007", "21006", "21009", "21012", "21011"]


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def bar_json(minute: int, open_: str, close: str, instrument: str = "NQ 12-26") -> dict[str, Any]:
    high = str(max(Decimal(open_), Decimal(close)) + Decimal("0.5"))
    low = str(min(Decimal(open_), Decimal(close)) - Decimal("0.5"))
    return {
        "type": "bar", "ts_event": iso(START + timedelta(minutes=minute)), "source": "live",
        "producer": "tests", "instrument": instrument, "period": "1 Minute",
        "open": open_, "high": high, "low": low, "close": close, "volume": 100,
    }  # fmt: skip


def test_a_signal_is_paper_traded_beside_its_live_trade(
    settings: Settings, pipeline: Pipeline
) -> None:
    bars = [bar_json(i + 1, CLOSES[i - 1] if i else "21000", c) for i, c in enumerate(CLOSES)]
    signal = {
        "type": "signal", "ts_event": "2026-09-22T14:00:30Z", "source": "live",
        "producer": "tests", "signal_id": "sh-1", "account": "Sim101",
        "instrument": "NQ 12-26", "strategy": "Breakout", "variant": "v1", "direction": "long",
        "intended_stop": "20995", "intended_target": "21010",
    }  # fmt: skip
    live = [
        execution("sh-1-in", "buy", "21000.75", ts="2026-09-22T14:00:35Z", signal_id="sh-1",
                  strategy="Breakout", variant="v1"),
        execution("sh-1-out", "sell", "21009.5", ts="2026-09-22T14:09:10Z", signal_id="sh-1",
                  strategy="Breakout", variant="v1"),
    ]  # fmt: skip
    assert post(settings, [signal, *bars, *live])[0] == 202

    paper = "SELECT entry_price, exit_price, net_pnl, source FROM trades WHERE account = %s"
    wait_for(lambda: query(settings, paper, ("PAPER:Sim101",)) != [], timeout=90,
             message="no paper trade")  # fmt: skip

    # the paper trade is the fill model's, on the bars the bridge took
    model = FillModel(slippage_ticks=settings.paper_slippage_ticks,
                      commission_per_contract=settings.paper_commission)  # fmt: skip
    expected = simulate(_signal_event(signal), [_bar_event(b) for b in bars],
                        spec_for("NQ 12-26"), model)  # fmt: skip
    assert expected is not None and expected.exit is not None
    ((entry, exit_, net, source),) = query(settings, paper, ("PAPER:Sim101",))
    assert (entry, exit_, net, source) == (
        expected.entry_price, expected.exit_price, expected.net_pnl, "paper"
    )  # fmt: skip

    # paper positions and figures stay apart from the live account's
    wait_for(lambda: query(settings, "SELECT count(*) FROM trades WHERE account = 'Sim101'")
             == [(1,)], timeout=60, message="no live trade")  # fmt: skip
    accounts = "SELECT DISTINCT account FROM performance WHERE scope = 'account' ORDER BY 1"
    wait_for(lambda: query(settings, accounts) == [("PAPER:Sim101",), ("Sim101",)], timeout=60,
             message="the paper and the live account's figures apart")  # fmt: skip

    rows = query(
        settings,
        "SELECT live_entry_price, paper_entry_price, entry_slippage, exit_slippage,"
        " slippage_value, live_net_pnl, paper_net_pnl, net_difference_per_contract"
        " FROM paper_comparison WHERE signal_id = 'sh-1'",
    )
    ((live_entry, paper_entry, entry_slip, exit_slip, value, live_net, paper_net, diff),) = rows
    assert (live_entry, paper_entry) == (Decimal("21000.75"), expected.entry_price)
    assert entry_slip == Decimal("21000.75") - expected.entry_price
    assert exit_slip == expected.exit_price - Decimal("21009.5")  # type: ignore[operator]
    assert value == (entry_slip + exit_slip) * 20
    assert paper_net == expected.net_pnl and diff == live_net - paper_net


def _signal_event(body: dict[str, Any]) -> SignalEmitted:
    at = datetime.fromisoformat(body["ts_event"].replace("Z", "+00:00"))
    return SignalEmitted(
        envelope=Envelope(event_id=EventId("x"), ts_event=at, ts_ingested=at, producer="t"),
        signal_id=body["signal_id"], account=body["account"], instrument=body["instrument"],
        strategy=body["strategy"], direction=Direction(body["direction"]),
        intended_stop=Decimal(body["intended_stop"]),
        intended_target=Decimal(body["intended_target"]),
    )  # fmt: skip


def _bar_event(body: dict[str, Any]) -> BarClosed:
    at = datetime.fromisoformat(body["ts_event"].replace("Z", "+00:00"))
    return BarClosed(
        envelope=Envelope(event_id=EventId("x"), ts_event=at, ts_ingested=at, producer="t"),
        instrument=body["instrument"], period=body["period"], open=Decimal(body["open"]),
        high=Decimal(body["high"]), low=Decimal(body["low"]), close=Decimal(body["close"]),
        volume=body["volume"],
    )  # fmt: skip


def test_a_signal_in_a_root_defined_after_it_is_paper_traded_on_the_definition(
    settings: Settings, pipeline: Pipeline
) -> None:
    bars = [bar_json(i + 1, CLOSES[i - 1] if i else "21000", c, "ZZ 12-26")
            for i, c in enumerate(CLOSES)]  # fmt: skip
    signal = {
        "type": "signal", "ts_event": "2026-09-22T14:00:30Z", "source": "live",
        "producer": "tests", "signal_id": "zz-1", "account": "Sim101",
        "instrument": "ZZ 12-26", "strategy": "Breakout", "direction": "long",
        "intended_stop": "20995", "intended_target": "21010",
    }  # fmt: skip
    assert post(settings, [signal, *bars])[0] == 202
    definition = {
        "type": "instrument", "ts_event": "2026-09-22T14:20:00Z", "source": "live",
        "producer": "tests", "root": "ZZ", "instrument": "ZZ 12-26", "name": "Zed",
        "tick_size": "1", "point_value": "5", "currency": "EUR",
    }  # fmt: skip
    assert post(settings, [definition])[0] == 202

    paper = "SELECT entry_price, exit_price, net_pnl, currency FROM trades WHERE account = %s"
    wait_for(lambda: query(settings, paper, ("PAPER:Sim101",)) != [], timeout=90,
             message="no paper trade in the defined root")  # fmt: skip
    spec = ContractSpec(root="ZZ", name="Zed", exchange="", tick_size=Decimal(1),
                        point_value=Decimal(5), currency="EUR")  # fmt: skip
    model = FillModel(slippage_ticks=settings.paper_slippage_ticks,
                      commission_per_contract=settings.paper_commission)  # fmt: skip
    expected = simulate(_signal_event(signal), [_bar_event(b) for b in bars], spec, model)
    assert expected is not None and expected.exit is not None
    assert query(settings, paper, ("PAPER:Sim101",)) == [
        (expected.entry_price, expected.exit_price, expected.net_pnl, "EUR")
    ]
