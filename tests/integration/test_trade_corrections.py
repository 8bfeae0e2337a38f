"""Corrected trades on the real stack: TradeClosed revisions on derived.trades (an amended trade's
revision 1 with another net P&L, another trade voided) reach the trades view as the current
versions, the trade_corrections view and `fillstream corrections` as their lineage, and the
performance stages and projection as the figures of the corrected trades, exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Producer

from core.settings import PROJECT_ROOT, Settings
from domain.contracts import spec_for
from domain.matching import Book, apply
from domain.performance.figures import TradeResult
from domain.performance.ledger import Ledger
from domain.performance.snapshots import scopes_of, snapshots
from projections import EXECUTION_CORRECTIONS, EXECUTIONS, PERFORMANCE, TRADES
from projections.migrate import migrate
from projections.projection import Projection
from projections.projector import Projector
from schemas.catalog import DERIVED_TRADES, RAW_EXECUTIONS
from schemas.codec import default_codec
from schemas.events import (
    EventId,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    PerformanceSnapshot,
    TradeClosed,
)
from streams.runtime.deriver import Deriver, Stage
from streams.stages.performance import ScopeTrades, ScoreTrades
from tests.fixtures.corrections import busted, corrected
from tests.fixtures.pipeline import query
from tests.fixtures.services import wait_for
from tests.fixtures.stubs import buy, sell

pytestmark = pytest.mark.integration

CODEC = default_codec()
NQ = "NQ 12-26"
FIGURES = ("trades", "wins", "losses", "net_profit", "gross_profit", "gross_loss",
           "max_drawdown", "current_drawdown", "win_rate", "profit_factor", "expectancy",
           "sharpe", "sqn", "longest_win_streak", "longest_loss_streak",
           "trading_days")  # fmt: skip


def round_trip(exit_at: datetime, exit_price: str) -> tuple[list[ExecutionReported], TradeClosed]:
    """A long NQ round trip on Sim101 closing at ``exit_at``: its executions and its trade."""
    entry = buy(price="21000", instrument=NQ)
    leave = sell(price=exit_price, instrument=NQ)
    entry = replace(
        entry, envelope=replace(entry.envelope, ts_event=exit_at - timedelta(minutes=5))
    )
    leave = replace(leave, envelope=replace(leave.envelope, ts_event=exit_at))
    book, _ = apply(Book(), entry, spec_for(NQ))
    _, (trade,) = apply(book, leave, spec_for(NQ))
    return [entry, leave], trade


def revision(
    trade: TradeClosed, cause: ExecutionCorrected | ExecutionBusted, **changes: Any
) -> TradeClosed:
    """``trade``'s next revision, caused by ``cause``, as matching publishes it."""
    number = trade.revision + 1
    return replace(
        trade,
        envelope=replace(trade.envelope, event_id=EventId(f"{trade.envelope.event_id}-r{number}"),
                         causation_ids=(cause.envelope.event_id,)),
        revision=number,
        supersedes=trade.envelope.event_id,
        correction_id=cause.envelope.event_id,
        voided=isinstance(cause, ExecutionBusted),
        **changes,
    )  # fmt: skip


Keyed = ExecutionReported | ExecutionCorrected | ExecutionBusted | TradeClosed


def produce(settings: Settings, topic: str, events: Sequence[Keyed]) -> None:
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "acks": "all"})
    for event in events:
        key = f"{event.account}|{event.instrument}".encode()
        producer.produce(settings.topic(topic), key=key, value=CODEC.encode(event))
    assert producer.flush(30) == 0


@contextmanager
def running(settings: Settings) -> Iterator[None]:
    """The two performance stages and the four projections, until the block ends."""
    stop = threading.Event()
    stages: list[Stage] = [ScopeTrades(CODEC), ScoreTrades.from_settings(settings, CODEC)]
    projections: list[Projection] = [TRADES, PERFORMANCE, EXECUTIONS, EXECUTION_CORRECTIONS]
    threads = [
        *(threading.Thread(target=Deriver(settings, s).run, args=(stop,)) for s in stages),
        *(
            threading.Thread(target=Projector(settings, p, CODEC, batch_size=50).run, args=(stop,))
            for p in projections
        ),
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads), "a stage or projector did not stop"


def performance(settings: Settings) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    rows = query(
        settings,
        "SELECT scope, scope_key, time_window, window_key, " + ", ".join(FIGURES)
        + " FROM performance",
    )  # fmt: skip
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def recomputed(
    settings: Settings, trades: Sequence[TradeClosed]
) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    """The performance view's rows as if the trades had been derived right the first time:
    every window of every scope of a ledger given only ``trades``."""
    ledgers: dict[str, tuple[Any, Ledger]] = {}
    for trade in trades:
        for scope in scopes_of(trade):
            ledgers.setdefault(scope.name, (scope, Ledger(settings.capital_of(trade.account))))[
                1
            ].add(TradeResult.of(trade))
    expected: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
    for scope, ledger in ledgers.values():
        days = {t.trading_day for t in ledger.trades}
        made: list[PerformanceSnapshot] = snapshots(
            scope, ledger, days, rolling=settings.rolling_trades
        )
        for s in made:
            key = (s.scope.value, s.scope_key, s.window.value, s.window_key)
            expected[key] = tuple(getattr(s, name) for name in FIGURES)
    return expected


def cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fillstream", "corrections", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_revisions_and_voids_reach_the_views_the_figures_and_the_report(
    settings: Settings,
) -> None:
    migrate(settings)
    day = datetime.fromisoformat("2026-09-22T14:00:00+00:00")
    kept_fills, kept = round_trip(day, "21004")
    amended_fills, amended = round_trip(day + timedelta(hours=1), "20990")
    busted_fills, gone = round_trip(day + timedelta(days=1), "21020")
    produce(settings, RAW_EXECUTIONS, [*kept_fills, *amended_fills, *busted_fills])
    produce(settings, DERIVED_TRADES, [kept, amended, gone])
    with running(settings):
        wait_for(
            lambda: performance(settings) == recomputed(settings, [kept, amended, gone]),
            timeout=90,
            message="the first revisions' figures were not projected",
        )
        fix = corrected(amended_fills[1], price=Decimal("21006"), reason="price adjusted")
        bust = busted(busted_fills[1], reason="trade broken")
        better = revision(
            amended,
            fix,
            exit_price=Decimal("21006"),
            gross_pnl=Decimal("120"),
            net_pnl=amended.net_pnl + Decimal("320"),
        )
        voided = revision(gone, bust)
        produce(settings, RAW_EXECUTIONS, [fix, bust])
        produce(settings, DERIVED_TRADES, [better, voided])
        expected = recomputed(settings, [kept, better])
        explained = "SELECT 1 FROM trade_corrections WHERE correction_kind IS NOT NULL"
        wait_for(
            lambda: performance(settings) == expected and len(query(settings, explained)) == 2,
            timeout=90,
            message="the figures or the corrections view did not follow the corrections",
        )

    # the trades view: one row per trade, its latest revision, the voided one gone
    assert query(settings, "SELECT trade_id, revision, net_pnl FROM trades ORDER BY exit_time") == [
        (kept.trade_id, 0, kept.net_pnl),
        (amended.trade_id, 1, better.net_pnl),
    ]
    assert query(settings, "SELECT count(*) FROM trades_v1") == [(5,)]  # every revision kept
    # the performance figures: those of the two trades left, and no window of none shown
    account = performance(settings)[("account", "Sim101", "all_time", "")]
    assert account[:4] == (2, 2, 0, kept.net_pnl + better.net_pnl)
    assert ("account", "Sim101", "trading_day", gone.exit_time.date().isoformat()) not in expected
    emptied = query(settings, "SELECT count(*) FROM performance_v1 WHERE trades = 0")
    assert emptied[0][0] > 0  # the voided trade's day: kept in the table, not in the view

    # the corrections view: lineage, the correction behind each revision, what changed
    rows = query(
        settings,
        "SELECT trade_id, revision, supersedes, correction_id, voided, correction_kind,"
        " corrected_execution_id, correction_reason, old_net_pnl, new_net_pnl, net_pnl_change,"
        " current FROM trade_corrections ORDER BY voided",
    )
    assert rows == [
        (amended.trade_id, 1, amended.envelope.event_id, fix.envelope.event_id, False,
         "corrected", fix.execution_id, "price adjusted", amended.net_pnl, better.net_pnl,
         Decimal(320), True),
        (gone.trade_id, 1, gone.envelope.event_id, bust.envelope.event_id, True, "busted",
         bust.execution_id, "trade broken", gone.net_pnl, None, -gone.net_pnl, True),
    ]  # fmt: skip
    assert query(
        settings, "SELECT execution_id, correction FROM executions WHERE correction IS NOT NULL"
        " ORDER BY correction"
    ) == [(bust.execution_id, "busted"), (fix.execution_id, "corrected")]  # fmt: skip

    # the report
    report = json.loads(cli(settings, "--json"))
    changes = {(r["trade_id"], r["revision"], r["voided"], Decimal(r["net_pnl_change"]))
               for r in report}  # fmt: skip
    assert changes == {(amended.trade_id, 1, False, 320), (gone.trade_id, 1, True, -gone.net_pnl)}
    table = cli(settings).splitlines()
    assert table[0].split()[:4] == ["trade", "rev", "correction", "execution"]
    lines = {line.split()[0]: line for line in table[1:]}
    assert "amended" in lines[amended.trade_id] and "+320.00" in lines[amended.trade_id]
    assert "removed" in lines[gone.trade_id] and "voided" in lines[gone.trade_id]
    one = json.loads(cli(settings, "--trade", gone.trade_id, "--json"))
    assert [r["correction_kind"] for r in one] == ["busted"]
