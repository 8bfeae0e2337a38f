"""Corrected trades: a ledger given trades and then their revisions and voids, in any order and
with redeliveries, has the figures of a ledger given the corrected trades in the first place."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import EmptyWindowError, MissingTradeIdError
from domain.performance import ledger as ledger_module
from domain.performance.figures import TradeResult, summarize
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, snapshot, snapshots
from schemas.events import MetricScope, MetricWindow

START = datetime(2026, 9, 18, 12, 0, tzinfo=UTC)  # a Friday
CAPITAL = Decimal(25_000)

Version = tuple[TradeResult, int, bool]
"""A trade's revision: the trade, its revision number, whether it is voided."""


def trade(draw: st.DrawFn, trade_id: str) -> TradeResult:
    return TradeResult(
        trade_id=trade_id,
        exit_time=START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10))),
        net=draw(st.decimals(-500, 500, places=2, allow_nan=False)),
        gross=draw(st.decimals(-500, 500, places=2, allow_nan=False)),
        mae=Decimal(5),
        mfe=Decimal(draw(st.integers(0, 20))),
        currency="USD",
        ts_ingested=START,
    )


@st.composite
def histories(draw: st.DrawFn) -> list[list[Version]]:
    """Each trade's revisions in order (0 first): a new exit time, net, or a void (last)."""
    ids = draw(st.lists(st.integers(0, 10_000), unique=True, max_size=25))
    result = []
    for i in ids:
        versions: list[Version] = [(trade(draw, f"t-{i}"), 0, False)]
        for revision in range(1, draw(st.integers(0, 3)) + 1):
            if draw(st.integers(0, 4)) == 0:
                versions.append((versions[-1][0], revision, True))
                break
            versions.append((trade(draw, f"t-{i}"), revision, False))
        result.append(versions)
    return result


def count(book: Ledger, version: Version) -> frozenset[date] | None:
    result, revision, voided = version
    if voided:
        return book.void(result.trade_id, revision)
    return book.revise(result, revision)


def final(history: list[list[Version]]) -> list[Version]:
    return [versions[-1] for versions in history]


def corrected(history: list[list[Version]]) -> list[TradeResult]:
    """The trades as if derived correctly at once: each one's last revision, voids left out."""
    trades = [t for t, _, voided in final(history) if not voided]
    return sorted(trades, key=lambda t: (t.exit_time, t.trade_id))


def assert_same_figures(book: Ledger, trades: list[TradeResult], windows: int) -> None:
    fresh = Ledger(book.capital)
    for t in trades:
        fresh.add(t)
    assert list(book.trades) == trades
    assert len(book) == len(trades)
    assert book.all_time().performance == fresh.all_time().performance
    assert book.all_time().performance == summarize(trades, capital=book.capital)
    for day in {t.trading_day for t in trades}:
        assert book.day(day).performance == fresh.day(day).performance
        assert book.day(day).count == fresh.day(day).count
    for n in range(1, windows + 1):
        assert book.last(n).performance == fresh.last(n).performance


@given(history=histories(), data=st.data(), capital=st.sampled_from([None, CAPITAL]))
def test_revisions_in_any_order_give_the_figures_of_the_corrected_trades(
    history: list[list[Version]], data: st.DataObject, capital: Decimal | None
) -> None:
    versions = [v for versions in history for v in versions]
    arrival = data.draw(st.permutations(versions))
    redelivered = data.draw(st.lists(st.sampled_from(versions), max_size=5)) if versions else []
    book = Ledger(capital)
    with patch.object(ledger_module, "BLOCK", 2):
        for n, version in enumerate([*arrival, *redelivered]):
            count(book, version)
            if n % 3 == 0:  # reading folds the blocks: later changes must undo them
                book.all_time()
                book.last(3)
                book.day(version[0].trading_day)
        assert_same_figures(book, corrected(history), windows=5)
    assert book.changes == sum(revision + 1 for _, revision, _ in final(history))


@given(history=histories())
def test_the_digest_names_the_revisions_counted(history: list[list[Version]]) -> None:
    in_order, at_once = Ledger(), Ledger()
    for versions in history:
        for version in versions:
            count(in_order, version)
        count(at_once, versions[-1])
    assert in_order.all_time().digest == at_once.all_time().digest
    assert in_order.all_time().count == len(corrected(history))


def test_a_revision_moves_the_trade_and_reports_both_days() -> None:
    first = TradeResult(trade_id="t", exit_time=START, net=Decimal(50), gross=Decimal(52))
    moved = replace(first, exit_time=START + timedelta(days=3), net=Decimal(-20))
    book = Ledger()
    assert book.revise(first, 0) == frozenset({first.trading_day})
    digest = book.all_time().digest
    assert book.revise(moved, 1) == frozenset({first.trading_day, moved.trading_day})
    assert book.all_time().digest != digest  # same id, another revision: another set
    assert book.all_time().performance.net_profit == Decimal(-20)
    assert book.day(first.trading_day).count == 0
    assert book.revise(first, 1) is None and book.revise(first, 0) is None
    assert book.revision("t") == 1 and "t" in book
    assert book.void("t", 2) == frozenset({moved.trading_day})
    assert "t" not in book and len(book) == 0 and book.revision("t") == 2
    assert book.revise(moved, 1) is None  # an older revision redelivered after the void
    assert book.void("unseen", 1) == frozenset()  # nothing counted, but remembered
    assert book.revise(replace(first, trade_id="unseen"), 0) is None
    assert book.changes == 3 + 2
    with pytest.raises(MissingTradeIdError):
        book.void("", 1)


def test_a_void_that_empties_windows_gives_snapshots_of_no_trades() -> None:
    first = TradeResult(trade_id="t", exit_time=START, net=Decimal(50), gross=Decimal(52))
    book = Ledger(CAPITAL)
    book.add(first)
    scope = Scope(kind=MetricScope.ACCOUNT, key="Sim101", account="Sim101")
    before = snapshots(scope, book, [first.trading_day], rolling=20)
    days = book.void("t", 1)
    assert days is not None
    voided_at = START + timedelta(hours=1)
    after = snapshots(scope, book, days, rolling=20, at=voided_at)
    assert [s.window for s in after] == [
        MetricWindow.ALL_TIME,
        MetricWindow.TRADING_DAY,
        MetricWindow.LAST_TRADES,
    ]
    for old, new in zip(before, after, strict=True):
        assert (new.trades, new.net_profit, new.as_of_trade_id) == (0, Decimal(0), None)
        assert new.envelope.ts_event == voided_at and new.envelope.causation_ids == ()
        assert new.scope_trades == 2 > old.scope_trades == 1  # the projection keeps the later
        assert new.snapshot_id != old.snapshot_id
    with pytest.raises(EmptyWindowError):
        snapshot(scope, MetricWindow.ALL_TIME, "", book.all_time(), book.changes)
