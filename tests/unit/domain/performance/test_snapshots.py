"""Performance snapshots: scopes of a trade, the three windows, ids that name the set of trades."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contracts import spec_for
from domain.matching import Book, apply
from domain.performance.figures import TradeResult, summarize
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, scopes_of, snapshot, snapshots
from schemas.codec import default_codec
from schemas.events import MetricScope, MetricWindow, Source, TradeClosed, TradeId
from streams.stages.performance import result_from_json, result_to_json
from tests.fixtures.stubs import buy, sell

NQ = spec_for("NQ 12-26")


def closed(entry: str, exit_: str, **fields: Any) -> TradeClosed:
    book, _ = apply(Book(), buy(price=entry, **fields), NQ)
    _, (trade,) = apply(book, sell(price=exit_, **fields), NQ)
    return trade


def test_a_trade_counts_in_its_account_instrument_strategy_and_variant() -> None:
    trade = closed("21000", "21001", strategy="Breakout", variant="B")
    names = [s.name for s in scopes_of(trade)]
    assert names == [
        "account:Sim101",
        "instrument:Sim101|NQ 12-26",
        "strategy:Sim101|Breakout",
        "variant:Sim101|Breakout|B",
    ]
    plain = closed("21000", "21001")
    assert [s.kind for s in scopes_of(plain)] == [MetricScope.ACCOUNT, MetricScope.INSTRUMENT]


def test_the_three_windows_of_a_new_trade() -> None:
    trades = [TradeResult.of(closed("21000", p)) for p in ("21002", "20999", "21000.5")]
    ledger = Ledger()
    for t in trades:
        ledger.add(t)
    scope = scopes_of(closed("21000", "21001"))[0]
    events = snapshots(scope, ledger, {trades[-1].trading_day}, rolling=2)
    assert [(e.window, e.window_key) for e in events] == [
        (MetricWindow.ALL_TIME, ""),
        (MetricWindow.TRADING_DAY, trades[-1].trading_day.isoformat()),
        (MetricWindow.LAST_TRADES, "2"),
    ]
    assert [e.trades for e in events] == [3, 3, 2]
    assert all(e.scope_trades == 3 for e in events)
    assert events[0].net_profit == summarize(trades).net_profit
    assert events[2].net_profit == summarize(trades[1:]).net_profit
    assert events[0].as_of_trade_id == trades[-1].trade_id
    assert events[0].currency == "USD" and events[0].account == "Sim101"
    assert (events[0].current_win_streak, events[0].current_loss_streak) == (1, 0)  # W, L, W
    codec = default_codec()
    for event in events:
        assert codec.decode(codec.encode(event)) == event


def test_money_is_rounded_to_the_avro_scale() -> None:
    # three trades netting 100 make an expectancy of 33.33... : more places than Avro keeps
    nets = [Decimal("60"), Decimal("-20"), Decimal("60")]
    ledger = Ledger()
    for i, net in enumerate(nets):
        ledger.add(
            TradeResult.of(
                replace(closed("21000", "21001"), net_pnl=net, trade_id=TradeId(f"x{i}"))
            )
        )
    scope = Scope(kind=MetricScope.ACCOUNT, key="Sim101", account="Sim101")
    event = snapshot(scope, MetricWindow.ALL_TIME, "", ledger.all_time(), len(ledger))
    assert event.expectancy == Decimal("33.3333333333")
    default_codec().encode(event)


@given(data=st.data())
def test_the_same_trades_make_the_same_snapshots_in_any_order(data: st.DataObject) -> None:
    exits = data.draw(st.lists(st.integers(20990, 21010), min_size=1, max_size=8))
    trades = [TradeResult.of(closed("21000", str(p))) for p in exits]
    scope = Scope(kind=MetricScope.ACCOUNT, key="Sim101", account="Sim101")

    def final(order: list[TradeResult]) -> list[object]:
        ledger = Ledger()
        for t in order:
            ledger.add(t)
        newest = max(order, key=lambda t: (t.exit_time, t.trade_id))
        return list(snapshots(scope, ledger, {newest.trading_day}, rolling=3))

    assert final(data.draw(st.permutations(trades))) == final(trades)


def test_an_empty_window_has_no_snapshot() -> None:
    scope = Scope(kind=MetricScope.ACCOUNT, key="Sim101", account="Sim101")
    with pytest.raises(ValueError, match="needs a trade"):
        snapshot(scope, MetricWindow.ALL_TIME, "", Ledger().all_time(), 0)


def test_figures_whose_latest_trade_was_imported_are_historys() -> None:
    live = closed("21000", "21002")
    history = replace(live, envelope=replace(live.envelope, source=Source.IMPORT),
                      trade_id=TradeId("imported-1"))  # fmt: skip
    assert TradeResult.of(history).imported and not TradeResult.of(live).imported
    scope = scopes_of(live)[0]
    ledger = Ledger()
    ledger.add(TradeResult.of(history))
    (alone,) = snapshots(scope, ledger, set(), rolling=5)[:1]
    assert alone.envelope.source is Source.IMPORT
    later = replace(live, exit_time=live.exit_time + timedelta(minutes=5))
    ledger.add(TradeResult.of(later))
    assert snapshots(scope, ledger, set(), rolling=5)[0].envelope.source is Source.UNKNOWN
    # the performance stage's ledger rows keep it
    row = result_to_json("account:Sim101", TradeResult.of(history))
    assert (
        result_from_json(row).imported and not result_from_json({**row, "imported": None}).imported
    )
