"""The paper fill model: hand-worked cases for longs and shorts (target, stop, gap, both in one
bar, still open), the refusals, and properties over generated bars (costs, bounds, prefixes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from domain.contracts import spec_for
from domain.errors import PaperError
from domain.paper import FillModel, PaperExit, simulate
from schemas.events import BarClosed, Direction, Envelope, EventId, SignalEmitted, SignalId
from tests.fixtures import stubs

NQ = spec_for("NQ 12-26")  # tick 0.25, $20 a point
MODEL = FillModel(slippage_ticks=1, commission_per_contract=Decimal("2.09"))
T0 = stubs.BASE_TIME


def signal(direction: str = "long", stop: str | None = "20990", target: str | None = "21010",
           minute: int = 0) -> SignalEmitted:  # fmt: skip
    at = T0 + timedelta(minutes=minute, seconds=20)
    return SignalEmitted(
        envelope=Envelope(event_id=EventId("sig"), ts_event=at, ts_ingested=at, producer="t"),
        signal_id=SignalId("sig-1"), account="Sim101", instrument="NQ 12-26", strategy="Breakout",
        direction=Direction(direction),
        intended_stop=None if stop is None else Decimal(stop),
        intended_target=None if target is None else Decimal(target),
    )  # fmt: skip


def bar(minute: int, open_: str, high: str, low: str, close: str) -> BarClosed:
    built = stubs.bar(T0 + timedelta(minutes=minute), high, low)
    return replace(built, open=Decimal(open_), close=Decimal(close))


def test_a_long_reaches_its_target() -> None:
    bars = [
        bar(0, "21000", "21001", "20999", "21000"),  # closes before the signal: not used
        bar(1, "21000", "21004", "20998", "21003"),  # entry at its open + 1 tick
        bar(2, "21003", "21011", "21002", "21009"),  # touches the target
    ]
    trade = simulate(signal(), bars, NQ, MODEL)
    assert trade is not None
    assert (trade.entry_price, trade.entry_time) == (Decimal("21000.25"), bars[1].envelope.ts_event)
    assert (trade.exit_price, trade.exit, trade.exit_time) == (
        Decimal("21010"), PaperExit.TARGET, bars[2].envelope.ts_event
    )  # fmt: skip
    assert trade.gross_pnl == Decimal("9.75") * 20
    assert trade.commission == Decimal("4.18")
    assert trade.net_pnl == Decimal("195.00") - Decimal("4.18")


def test_a_long_stopped_out_slips_and_a_gap_exits_at_the_open() -> None:
    stopped = simulate(signal(), [bar(1, "21000", "21002", "20989", "20995")], NQ, MODEL)
    assert stopped is not None
    assert (stopped.exit_price, stopped.exit) == (Decimal("20989.75"), PaperExit.STOP)
    gapped = simulate(
        signal(),
        [bar(1, "21000", "21002", "20995", "20996"), bar(2, "20980", "20985", "20975", "20983")],
        NQ, MODEL,
    )  # fmt: skip
    assert gapped is not None
    assert gapped.exit_price == Decimal("20979.75")  # the open, less a tick
    assert gapped.net_pnl == (Decimal("20979.75") - Decimal("21000.25")) * 20 - Decimal("4.18")


def test_a_bar_reaching_both_exits_at_the_stop() -> None:
    trade = simulate(signal(), [bar(1, "21000", "21012", "20988", "21000")], NQ, MODEL)
    assert trade is not None and trade.exit is PaperExit.STOP


def test_a_short_mirrors_a_long() -> None:
    short = signal("short", stop="21010", target="20990")
    won = simulate(short, [bar(1, "21000", "21001", "20989", "20990")], NQ, MODEL)
    assert won is not None
    assert (won.entry_price, won.exit_price, won.exit) == (
        Decimal("20999.75"), Decimal("20990"), PaperExit.TARGET
    )  # fmt: skip
    assert won.gross_pnl == Decimal("9.75") * 20
    lost = simulate(short, [bar(1, "21000", "21010", "20995", "21005")], NQ, MODEL)
    assert lost is not None and lost.exit_price == Decimal("21010.25")


def test_without_an_exit_yet_the_trade_is_open_and_without_a_bar_there_is_none() -> None:
    assert (
        simulate(signal(minute=5), [bar(1, "21000", "21001", "20999", "21000")], NQ, MODEL) is None
    )
    trade = simulate(signal(), [bar(1, "21000", "21005", "20995", "21001")], NQ, MODEL)
    assert trade is not None
    assert (trade.exit, trade.exit_price, trade.net_pnl) == (None, None, None)
    assert trade.commission == Decimal("2.09")  # the entry's side


@pytest.mark.parametrize(
    ("made", "message"),
    [
        (signal(stop=None), "needs intended_stop and intended_target"),
        (signal(target=None), "needs intended_stop and intended_target"),
        (signal(stop="21020"), "needs its stop below its target"),
        (signal("short"), "needs its stop above its target"),
        (signal("unknown"), "must be long or short"),
    ],
)
def test_a_signal_that_cannot_be_simulated_says_why(made: SignalEmitted, message: str) -> None:
    with pytest.raises(PaperError, match=message):
        simulate(made, [bar(1, "21000", "21001", "20999", "21000")], NQ, MODEL)


def test_a_bad_fill_model_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="slippage_ticks"):
        FillModel(slippage_ticks=-1)
    with pytest.raises(ConfigError, match="commission_per_contract"):
        FillModel(commission_per_contract=Decimal("-1"))


moves = st.lists(st.tuples(st.integers(-12, 12), st.integers(0, 6), st.integers(0, 6),
                           st.integers(-6, 6)), min_size=1, max_size=40)  # fmt: skip


def walk(steps: list[tuple[int, int, int, int]]) -> list[BarClosed]:
    tick, close, bars = Decimal("0.25"), Decimal(21000), []
    for i, (move, up, down, gap) in enumerate(steps, start=1):
        open_ = close + gap * tick
        close = open_ + move * tick
        high, low = max(open_, close) + up * tick, min(open_, close) - down * tick
        bars.append(bar(i, str(open_), str(high), str(low), str(close)))
    return bars


@settings(max_examples=200, deadline=None)
@given(moves, st.sampled_from(["long", "short"]), st.integers(0, 3))
def test_properties_over_generated_bars(
    steps: list[tuple[int, int, int, int]], direction: str, slip: int
) -> None:
    bars = walk(steps)
    made = signal(direction, "20992", "21008") if direction == "long" else signal(
        direction, "21008", "20992")  # fmt: skip
    model = FillModel(slippage_ticks=slip, commission_per_contract=Decimal("1.5"))
    trade = simulate(made, bars, NQ, model)
    assert trade is not None
    assert (
        trade.entry_price == bars[0].open + (1 if direction == "long" else -1) * slip * NQ.tick_size
    )
    if trade.exit is None:
        return
    (at,) = [b for b in bars if b.envelope.ts_event == trade.exit_time]
    assert trade.exit_price is not None and trade.gross_pnl is not None
    assert trade.net_pnl == trade.gross_pnl - 2 * Decimal("1.5")
    if trade.exit is PaperExit.TARGET:
        assert trade.exit_price == made.intended_target and trade.gross_pnl > 0
    else:  # at the stop or a worse open, then slipped
        assert at.low - slip * NQ.tick_size <= trade.exit_price <= at.high + slip * NQ.tick_size
    # no bar before the exit reached either level; bars after it change nothing
    index = bars.index(at)
    assert simulate(made, bars[: index + 1], NQ, model) == trade
    assert simulate(made, bars[:index], NQ, model) != trade
