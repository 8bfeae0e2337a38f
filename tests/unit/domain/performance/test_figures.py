"""Performance figures: a hand-worked example, NinjaTrader's own grid columns on the real exports,
empyrical for the return-based ratios, and properties over generated trades."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import empyrical
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.imports import parse_trades
from bridge.imports.formats import parse_money
from domain.performance.figures import (
    DEFINITIONS_VERSION,
    SqnBasis,
    Tally,
    TradeResult,
    daily_pnl,
    drawdowns,
    group,
    last_trades,
    nt_sharpe_monthly,
    per_trading_day,
    sharpe,
    sortino,
    summarize,
    trading_day,
)
from tests.fixtures.ntsamples import SIM101, SUMMARY, TOPSTEP, exports, read_export

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)  # 9:00 in Chicago


def trade(net: str, *, day: int = 0, gross: str | None = None, **extra: object) -> TradeResult:
    return TradeResult(
        exit_time=MONDAY + timedelta(days=day),
        net=Decimal(net),
        gross=Decimal(gross if gross is not None else net),
        **extra,  # type: ignore[arg-type]
    )


# --- a hand-worked example ----------------------------------------------------------------------


def test_a_hand_worked_set_of_trades() -> None:
    trades = [
        trade("100", day=0),
        trade("-50", day=0),
        trade("0", day=1),
        trade("200", day=1),
        trade("-80", day=2),
        trade("-40", day=2),
        trade("30", day=3),
    ]
    p = summarize(trades, capital=Decimal(1000))
    assert p.definitions_version == DEFINITIONS_VERSION
    assert (p.trades, p.wins, p.losses, p.breakevens) == (7, 3, 3, 1)
    assert p.win_rate == 0.5  # the breakeven decides nothing
    assert p.nt_percent_profitable == pytest.approx(3 / 7)  # NinjaTrader counts it against
    assert (p.gross_profit, p.gross_loss, p.net_profit) == (D(330), D(-170), D(160))
    assert p.avg_win == 110 and p.avg_loss == Decimal(-170) / 3
    assert p.payoff_ratio == pytest.approx(110 / (170 / 3))
    assert p.profit_factor == pytest.approx(330 / 170)
    assert p.expectancy == Decimal(160) / 7
    # equity 100, 50, 50, 250, 170, 130, 160: peak 250, deepest fall 120, now 90 below
    assert (p.max_drawdown, p.current_drawdown) == (D(120), D(90))
    assert p.max_drawdown_pct == pytest.approx(120 / 1250)
    assert p.recovery_factor == pytest.approx(160 / 120)
    assert (p.longest_win_streak, p.longest_loss_streak) == (1, 2)
    assert p.trading_days == 4
    daily = [50.0, 200.0, -120.0, 30.0]
    mean, sd = sum(daily) / 4, math.sqrt(sum((d - 40) ** 2 for d in daily) / 3)
    assert p.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert p.sortino == pytest.approx(mean / math.sqrt(120**2 / 4) * math.sqrt(252))
    assert p.sqn_basis is SqnBasis.NET_PNL and p.avg_r is None
    nets = [100, -50, 0, 200, -80, -40, 30]
    m = sum(nets) / 7
    assert p.sqn == pytest.approx(math.sqrt(7) * m / math.sqrt(sum((n - m) ** 2 for n in nets) / 6))
    assert p.first_exit == MONDAY and p.last_exit == MONDAY + timedelta(days=3)


def test_the_current_streak_is_the_run_ending_with_the_newest_trade() -> None:
    nets = ["-10", "-20", "30", "-5", "-15", "-25"]  # L, L, W, L, L, L
    trades = [trade(net, day=n) for n, net in enumerate(nets)]
    p = summarize(trades)
    assert (p.current_loss_streak, p.current_win_streak) == (3, 0)
    assert (p.longest_loss_streak, p.longest_win_streak) == (3, 1)
    after_a_win = summarize([*trades, trade("40", day=6)])
    assert (after_a_win.current_loss_streak, after_a_win.current_win_streak) == (0, 1)
    after_a_breakeven = summarize([*trades, trade("0", day=6)])  # a breakeven ends both runs
    assert (after_a_breakeven.current_loss_streak, after_a_breakeven.current_win_streak) == (0, 0)
    assert after_a_breakeven.longest_loss_streak == 3
    assert (summarize([]).current_loss_streak, summarize([]).current_win_streak) == (0, 0)


def test_undefined_figures_are_none_not_zero_or_infinity() -> None:
    empty = summarize([])
    assert (empty.trades, empty.net_profit, empty.max_drawdown) == (0, D(0), D(0))
    assert empty.win_rate is None and empty.expectancy is None and empty.sharpe is None
    only_wins = summarize([trade("10"), trade("20", day=1)])
    assert only_wins.profit_factor is None and only_wins.payoff_ratio is None
    assert only_wins.recovery_factor is None  # never fell
    assert only_wins.max_drawdown_pct is None  # no capital given
    breakevens = summarize([trade("0"), trade("0")])
    assert breakevens.win_rate is None and breakevens.nt_percent_profitable == 0
    assert breakevens.sharpe is None  # no spread


def test_r_multiples_make_the_sqn_when_every_trade_has_a_risk() -> None:
    trades = [
        trade("100", risk=Decimal(50)),
        trade("-50", risk=Decimal(50)),
        trade("150", risk=Decimal(100)),
    ]
    p = summarize(trades)
    rs = [2.0, -1.0, 1.5]
    assert p.sqn_basis is SqnBasis.R_MULTIPLE and p.avg_r == pytest.approx(2.5 / 3)
    m = 2.5 / 3
    sd = math.sqrt(sum((r - m) ** 2 for r in rs) / 2)
    assert p.sqn == pytest.approx(math.sqrt(3) * m / sd)
    assert summarize([*trades, trade("10")]).sqn_basis is SqnBasis.NET_PNL


def test_excursion_efficiencies() -> None:
    # long: entry 100, best 110, worst 95, exit 106 (1 point = $1)
    p = summarize([trade("6", mae=Decimal(5), mfe=Decimal(10))])
    assert p.entry_efficiency == pytest.approx(10 / 15)  # entered 5 above the low of a 15 range
    assert p.exit_efficiency == pytest.approx(11 / 15)  # exited 11 above it
    assert p.total_efficiency == pytest.approx(6 / 15)
    assert p.avg_etd == 4  # gave back 4 from the best point
    assert summarize([trade("6")]).entry_efficiency is None


# --- trading days and windows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 9, 21, 9, 0), date(2026, 9, 21)),  # Monday morning
        (datetime(2026, 9, 21, 16, 59, 59), date(2026, 9, 21)),
        (datetime(2026, 9, 21, 17, 0), date(2026, 9, 22)),  # the evening session is Tuesday's
        (datetime(2026, 9, 25, 17, 30), date(2026, 9, 28)),  # Friday evening: Monday
        (datetime(2026, 9, 27, 18, 0), date(2026, 9, 28)),  # Sunday evening: Monday
        (datetime(2026, 11, 1, 16, 30), date(2026, 11, 2)),  # a Sunday, the day DST ends
    ],
)
def test_trading_day_is_the_cme_session_date(local: datetime, expected: date) -> None:
    assert trading_day(local.replace(tzinfo=CHICAGO)) == expected


def test_daily_pnl_covers_every_weekday_between_the_first_and_last_trade() -> None:
    days = daily_pnl([trade("10", day=0), trade("5", day=0), trade("-3", day=7)])
    assert list(days) == [date(2026, 9, 21) + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7)]
    assert list(days.values()) == [15, 0, 0, 0, 0, -3]


def test_windows_and_scopes() -> None:
    trades = [trade(str(n), day=(n + 4) // 3) for n in range(-4, 8)]
    days = per_trading_day(trades)
    assert sum(p.net_profit for p in days.values()) == summarize(trades).net_profit
    assert [p.trades for p in days.values()] == [3, 3, 3, 3]
    assert last_trades(trades, 2).net_profit == 13
    with pytest.raises(ValueError, match="at least one trade"):
        last_trades(trades, 0)
    scopes = group(trades, lambda t: t.net > 0)
    assert [t.net for t in scopes[True]] == [Decimal(n) for n in range(1, 8)]


def test_ninjatrader_sharpe_is_monthly_profit_over_its_spread() -> None:
    trades = [
        TradeResult(
            exit_time=datetime(2026, 1, 5, 15, tzinfo=UTC), net=Decimal(300), gross=Decimal(300)
        ),
        TradeResult(
            exit_time=datetime(2026, 3, 2, 15, tzinfo=UTC), net=Decimal(-100), gross=Decimal(-100)
        ),
        TradeResult(
            exit_time=datetime(2026, 3, 3, 15, tzinfo=UTC), net=Decimal(400), gross=Decimal(400)
        ),
    ]
    months = [300.0, 0.0, 300.0]  # February had no trade
    mean = 200.0
    sd = math.sqrt(sum((m - mean) ** 2 for m in months) / 2)
    assert nt_sharpe_monthly(daily_pnl(trades)) == pytest.approx(mean / sd)
    assert summarize(trades).nt_sharpe_monthly == pytest.approx(mean / sd)


# --- NinjaTrader's own columns on the real exports ---------------------------------------------


def _money(cell: str) -> Decimal:
    return parse_money(cell, "cell")


@pytest.mark.parametrize("path", exports(SUMMARY))
def test_current_drawdown_and_etd_match_ninjatraders_summary_grid(path: Path) -> None:
    """The summary-by-period export: one row per period, with NinjaTrader's running figures."""
    rows = list(csv.DictReader(io.StringIO(read_export(path), newline="")))
    assert len(rows) >= 10
    nets = [_money(r["Net profit"]) for r in rows]
    curve = drawdowns(nets)
    equity = Decimal(0)
    for row, net, fall in zip(rows, nets, curve.curve, strict=True):
        equity += net
        assert equity == _money(row["Cum. net profit"])
        assert -fall == _money(row["Cum. max. drawdown"]), row["Period"]
        # NinjaTrader's ETD: MFE minus the profit (commission is $0.00 in this file)
        assert _money(row["Avg. MFE"]) - net == _money(row["Avg. ETD"]), row["Period"]
    assert curve.max == max(-_money(r["Cum. max. drawdown"]) for r in rows)
    assert curve.current == -_money(rows[-1]["Cum. max. drawdown"])


@pytest.mark.parametrize("path", exports(SIM101, TOPSTEP))
def test_per_trade_figures_match_ninjatraders_trades_grid(path: Path) -> None:
    result = parse_trades(read_export(path), tz=NEW_YORK, ts_ingested=MONDAY)
    rows = result.events
    trades = [TradeResult.of(r) for r in rows]
    p = summarize(trades)
    assert p.trades == len(rows) > 10
    equity = Decimal(0)
    for row, t in zip(rows, trades, strict=True):
        equity += t.net
        assert equity == row.cum_net_profit  # NinjaTrader's "Cum. net profit"
        assert row.mfe is not None and row.etd == row.mfe - t.gross  # NinjaTrader's ETD
    assert p.net_profit == rows[-1].cum_net_profit
    assert p.avg_mae == sum(r.mae or 0 for r in rows) / len(rows)
    assert p.avg_etd == sum(r.etd or 0 for r in rows) / len(rows)


# --- empyrical for the return-based ratios ------------------------------------------------------

daily_amounts = st.lists(
    st.decimals(min_value=-5000, max_value=5000, places=2, allow_nan=False), min_size=2, max_size=60
)


@given(daily=daily_amounts)
def test_sharpe_and_sortino_match_empyrical(daily: list[Decimal]) -> None:
    returns = np.array([float(d) / 100_000 for d in daily])  # on a constant capital of 100,000
    expected_sharpe = empyrical.sharpe_ratio(returns, risk_free=0.0, period="daily")
    expected_sortino = empyrical.sortino_ratio(returns, required_return=0.0, period="daily")
    ours = sharpe(daily)
    if ours is None:
        assert len(set(daily)) == 1
    else:
        assert ours == pytest.approx(expected_sharpe, rel=1e-9, abs=1e-9)
    ours_sortino = sortino(daily)
    if ours_sortino is None:
        assert all(d >= 0 for d in daily)
    elif math.isfinite(expected_sortino):
        assert ours_sortino == pytest.approx(expected_sortino, rel=1e-9, abs=1e-9)


@given(daily=daily_amounts)
def test_drawdown_percent_matches_empyrical_on_compounded_returns(daily: list[Decimal]) -> None:
    capital = Decimal(20_000)
    equity = capital
    returns = []
    for pnl in daily:  # each day's return on the equity it started with
        if equity <= 0:
            return  # a blown account (see below), before dividing by its equity
        returns.append(float(pnl / equity))
        equity += pnl
    if equity <= 0 or any(capital + sum(daily[:i], Decimal(0)) <= 0 for i in range(len(daily))):
        return  # a blown account has no percentage drawdown to compare
    expected = -empyrical.max_drawdown(np.array(returns))
    ours = drawdowns(daily, capital=capital).max_pct
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


# --- properties ---------------------------------------------------------------------------------

trade_lists = st.lists(
    st.builds(
        lambda net, day: trade(str(net), day=day),
        st.decimals(min_value=-2000, max_value=2000, places=2, allow_nan=False),
        st.integers(0, 40),
    ),
    max_size=40,
)


@given(trades=trade_lists)
def test_counts_sums_and_drawdowns_hold_together(trades: list[TradeResult]) -> None:
    p = summarize(trades)
    assert p.wins + p.losses + p.breakevens == p.trades == len(trades)
    assert p.gross_profit + p.gross_loss == p.net_profit == sum((t.net for t in trades), Decimal(0))
    assert 0 <= p.current_drawdown <= p.max_drawdown <= -p.gross_loss
    assert p.longest_win_streak <= p.wins and p.longest_loss_streak <= p.losses
    assert p.current_win_streak <= p.longest_win_streak
    assert p.current_loss_streak <= p.longest_loss_streak
    days = per_trading_day(trades)
    assert sum((d.net_profit for d in days.values()), Decimal(0)) == p.net_profit
    assert sum(daily_pnl(trades).values(), Decimal(0)) == p.net_profit


@given(trades=trade_lists, data=st.data())
def test_order_free_figures_do_not_depend_on_the_order(
    trades: list[TradeResult], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(trades))
    a, b = summarize(trades), summarize(shuffled)
    for field in ("trades", "wins", "losses", "net_profit", "gross_profit", "profit_factor",
                  "win_rate", "trading_days", "sharpe", "sortino"):  # fmt: skip
        left, right = getattr(a, field), getattr(b, field)
        if isinstance(left, float):
            assert left == pytest.approx(right)
        else:
            assert left == right


def current_streaks(nets: list[Decimal]) -> tuple[int, int]:
    """(wins, losses) in a row at the end of ``nets``, counted back from the newest."""
    wins = losses = 0
    for net in reversed(nets):
        if net > 0 and not losses:
            wins += 1
        elif net < 0 and not wins:
            losses += 1
        else:
            break
    return wins, losses


rich_trade_lists = st.lists(
    st.builds(
        lambda net, day, risk, mae, mfe: trade(
            str(net), day=day, gross=str(net + 3), risk=risk, mae=mae, mfe=mfe
        ),
        st.decimals(min_value=-2000, max_value=2000, places=2, allow_nan=False),
        st.integers(0, 40),
        st.sampled_from([None, Decimal("37.5"), Decimal(3)]),
        st.sampled_from([None, Decimal(0), Decimal(7)]),
        st.sampled_from([None, Decimal(0), Decimal("12.25"), Decimal(11)]),
    ),
    max_size=40,
)


@given(trades=rich_trade_lists, data=st.data())
def test_tallies_of_pieces_extended_in_order_are_the_tally_of_the_whole(
    trades: list[TradeResult], data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(trades)), max_size=6)))
    whole = Tally()
    for t in trades:
        whole.add(t)
    joined = Tally()
    for start, end in zip([0, *cuts], [*cuts, len(trades)], strict=True):
        piece = Tally()
        for t in trades[start:end]:
            piece.add(t)
        joined.extend(piece)
    assert joined == whole
    assert joined.performance() == summarize(trades)
    p = joined.performance()
    assert (p.current_win_streak, p.current_loss_streak) == current_streaks([t.net for t in trades])


@given(
    trades=rich_trade_lists,
    capital=st.decimals(min_value=1, max_value=50_000, places=2, allow_nan=False),
    data=st.data(),
)
def test_a_tally_with_a_capital_extended_by_pieces_counts_as_one_by_one(
    trades: list[TradeResult], capital: Decimal, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(trades)), max_size=6)))
    whole = Tally(capital=capital)
    for t in trades:
        whole.add(t)
    joined, relative = Tally(capital=capital), Tally()
    for start, end in zip([0, *cuts], [*cuts, len(trades)], strict=True):
        piece = Tally()
        for t in trades[start:end]:
            piece.add(t)
        joined.extend(piece)
        relative.extend(piece)
    assert joined == whole
    assert joined.performance() == summarize(trades, capital=capital)
    assert relative.drawdown_pct(capital) == whole.max_drawdown_pct
    assert relative.performance(capital) == summarize(trades, capital=capital)


def test_a_derived_trade_gives_its_net_gross_and_excursions() -> None:
    from domain.contracts import spec_for
    from domain.matching import Book, apply
    from tests.fixtures.stubs import buy, sell

    nq = spec_for("NQ 12-26")
    book, _ = apply(Book(), buy(price="21000", commission=Decimal("2.09")), nq)
    _, (closed,) = apply(book, sell(price="21010.75", commission=Decimal("2.09")), nq)
    result = TradeResult.of(closed)
    assert (result.net, result.gross) == (closed.net_pnl, Decimal("215.00"))
    assert result.net == Decimal("215.00") - Decimal("4.18")
    assert result.exit_time == closed.exit_time and result.mae is None


def test_a_derived_trade_with_an_initial_stop_counts_in_r_multiples() -> None:
    from dataclasses import replace

    from domain.contracts import spec_for
    from domain.matching import Book, apply
    from schemas.events import TradeId
    from tests.fixtures.stubs import buy, sell

    nq = spec_for("NQ 12-26")
    book, _ = apply(Book(), buy(price="21000"), nq)
    _, (closed,) = apply(book, sell(price="21010"), nq)
    risky = [replace(closed, risk=Decimal(100), trade_id=TradeId(f"t{n}")) for n in range(3)]
    results = [TradeResult.of(t) for t in risky]
    assert [r.risk for r in results] == [Decimal(100)] * 3
    assert summarize(results).sqn_basis == "r-multiple"
