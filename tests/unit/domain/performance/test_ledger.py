"""The ledger: the figures of a scope's trades depend on the set, not on the arrival order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.performance import ledger as ledger_module
from domain.performance.figures import TradeResult, session_bounds, summarize, trading_day
from domain.performance.ledger import Ledger

START = datetime(2026, 9, 18, 12, 0, tzinfo=UTC)  # a Friday


@st.composite
def trade_sets(draw: st.DrawFn, max_size: int = 30) -> list[TradeResult]:
    ids = draw(st.lists(st.integers(0, 10_000), unique=True, max_size=max_size))
    return [
        TradeResult(
            trade_id=f"t-{i}",
            exit_time=START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10))),
            net=draw(st.decimals(-500, 500, places=2, allow_nan=False)),
            gross=Decimal(0),
            mae=Decimal(5),
            mfe=Decimal(draw(st.integers(0, 20))),
            currency="USD",
            ts_ingested=START + timedelta(seconds=i),
        )
        for i in ids
    ]


def in_order(trades: list[TradeResult]) -> list[TradeResult]:
    return sorted(trades, key=lambda t: (t.exit_time, t.trade_id))


def filled(trades: list[TradeResult], block: int = 2) -> Ledger:
    book = Ledger()
    with patch.object(ledger_module, "BLOCK", block):
        for t in trades:
            book.add(t)
    return book


@given(trades=trade_sets(), data=st.data())
def test_any_arrival_order_gives_the_figures_of_the_ordered_set(
    trades: list[TradeResult], data: st.DataObject
) -> None:
    arrival = data.draw(st.permutations(trades))
    redelivered = data.draw(st.lists(st.sampled_from(trades), max_size=5)) if trades else []
    book = filled([*arrival, *redelivered])
    ordered = in_order(trades)
    window = book.all_time()
    assert window.performance == summarize(ordered)  # drawdowns and streaks included
    assert list(book.trades) == ordered
    assert window.count == len(trades)
    assert window.latest == (ordered[-1] if ordered else None)
    assert window.digest == filled(ordered).all_time().digest
    assert window.ts_ingested == max((t.ts_ingested for t in trades if t.ts_ingested), default=None)


@given(trades=trade_sets(), count=st.integers(1, 10), data=st.data())
def test_windows_hold_the_right_trades(
    trades: list[TradeResult], count: int, data: st.DataObject
) -> None:
    book = filled(data.draw(st.permutations(trades)))
    ordered = in_order(trades)
    assert book.last(count).performance == summarize(ordered[-count:])
    assert book.last(count).digest == filled(ordered[-count:]).all_time().digest
    for day in {t.trading_day for t in trades}:
        same_day = [t for t in ordered if t.trading_day == day]
        window = book.day(day)
        assert window.performance == summarize(same_day)
        assert (window.count, window.latest) == (len(same_day), same_day[-1])


@given(trades=trade_sets(max_size=40), data=st.data())
def test_windows_read_between_arrivals_are_those_of_the_trades_so_far(
    trades: list[TradeResult], data: st.DataObject
) -> None:
    arrival = data.draw(st.permutations(trades))
    book = Ledger()
    with patch.object(ledger_module, "BLOCK", 2):
        for n, t in enumerate(arrival, 1):
            book.add(t)
            if not data.draw(st.booleans()):
                continue
            so_far = in_order(arrival[:n])
            assert book.all_time().performance == summarize(so_far)
            same_day = [s for s in so_far if s.trading_day == t.trading_day]
            assert book.day(t.trading_day).performance == summarize(same_day)
            assert book.last(3).performance == summarize(so_far[-3:])


def before(ordered: list[TradeResult], first: TradeResult) -> Decimal:
    """The net profit of the trades before ``first``."""
    return sum((t.net for t in ordered[: ordered.index(first)]), Decimal(0))


@given(
    trades=trade_sets(max_size=40),
    capital=st.decimals(1, 20_000, places=2, allow_nan=False),
    data=st.data(),
)
def test_with_a_capital_every_window_has_the_drawdown_share_counted_one_by_one(
    trades: list[TradeResult], capital: Decimal, data: st.DataObject
) -> None:
    """All time on the capital, a day and the last trades on the capital plus what came before
    them: each equal to counting the window's trades one by one on that equity, however the
    trades arrived and however often the windows were read in between."""
    arrival = data.draw(st.permutations(trades))
    book = Ledger(capital)
    with patch.object(ledger_module, "BLOCK", 2):
        for n, t in enumerate(arrival, 1):
            book.add(t)
            if n < len(arrival) and not data.draw(st.booleans()):
                continue
            so_far = in_order(arrival[:n])
            assert book.all_time().performance == summarize(so_far, capital=capital)
            same_day = [s for s in so_far if s.trading_day == t.trading_day]
            start = capital + before(so_far, same_day[0])
            assert book.day(t.trading_day).performance == summarize(same_day, capital=start)
            latest = so_far[-3:]
            start = capital + before(so_far, latest[0])
            assert book.last(3).performance == summarize(latest, capital=start)
    ordered = in_order(trades)
    for day in {t.trading_day for t in trades}:
        same_day = [t for t in ordered if t.trading_day == day]
        start = capital + before(ordered, same_day[0])
        assert book.day(day).performance == summarize(same_day, capital=start)


def test_a_drawdown_share_is_of_the_equity_at_the_peak() -> None:
    """10,000 of capital; +1,000 (peak 11,000), -2,200 (to 8,800), then the next day +200 and
    -900 (to 8,100): all time 2,900 below the peak's 11,000; the day, from 8,800, 900 below its
    own peak of 9,000."""
    day1, day2 = START, START + timedelta(days=3)  # Friday, then Monday
    nets = [
        (day1, "1000"),
        (day1 + timedelta(hours=1), "-2200"),
        (day2, "200"),
        (day2 + timedelta(hours=1), "-900"),
    ]
    book = Ledger(Decimal(10_000))
    for n, (when, net) in enumerate(nets):
        book.add(
            TradeResult(trade_id=f"t{n}", exit_time=when, net=Decimal(net), gross=Decimal(net))
        )
    assert book.all_time().performance.max_drawdown_pct == pytest.approx(2900 / 11000)
    assert book.day(trading_day(day2)).performance.max_drawdown_pct == pytest.approx(900 / 9000)
    assert book.last(2).performance.max_drawdown_pct == pytest.approx(900 / 9000)
    assert Ledger().all_time().performance.max_drawdown_pct is None


def test_a_redelivered_trade_changes_nothing() -> None:
    t = TradeResult(trade_id="t-1", exit_time=START, net=Decimal(5), gross=Decimal(5))
    book = Ledger()
    assert book.add(t) is True
    assert book.add(t) is False
    assert book.all_time().count == 1 and "t-1" in book


def test_different_sets_have_different_digests_and_mixed_currencies_none() -> None:
    a = TradeResult(trade_id="a", exit_time=START, net=Decimal(1), gross=Decimal(1), currency="USD")
    b = TradeResult(trade_id="b", exit_time=START, net=Decimal(1), gross=Decimal(1), currency="EUR")
    assert filled([a]).all_time().digest != filled([b]).all_time().digest
    assert filled([a]).all_time().currency == "USD"
    assert filled([a, b]).all_time().currency is None


def test_a_trade_needs_its_id_and_a_window_a_size() -> None:
    with pytest.raises(ValueError, match="trade_id"):
        Ledger().add(TradeResult(exit_time=START, net=Decimal(1), gross=Decimal(1)))
    with pytest.raises(ValueError, match="at least one trade"):
        Ledger().last(0)


@given(moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_session_bounds_are_exactly_the_instants_of_a_trading_day(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    day = trading_day(aware)
    start, end = session_bounds(day)
    assert start <= aware < end
    assert trading_day(start) == day and trading_day(end) != day
    assert trading_day(start - timedelta(microseconds=1)) != day


def test_monday_starts_at_fridays_rollover() -> None:
    start, end = session_bounds(date(2026, 9, 21))
    assert (start.weekday(), start.hour, end.weekday(), end.hour) == (4, 17, 0, 17)
    with pytest.raises(ValueError, match="weekend"):
        session_bounds(date(2026, 9, 19))
