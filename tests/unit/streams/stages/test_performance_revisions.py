"""The performance stages follow corrected trades: a later revision replaces the one counted, a
voided one leaves, and the snapshots are those of the corrected trades."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from schemas.events import EventId, MetricWindow, PerformanceSnapshot, TradeClosed
from streams.runtime.deriver import Record
from streams.stages.performance import LEDGERS_TOPIC, ScopeTrades, ScoreTrades
from tests.unit.streams.stages.test_performance import CODEC, closed, run, scoped, snapshots_in

SCOPE = "account:Sim101"


def revised(
    trade: TradeClosed, revision: int, *, voided: bool = False, **fields: object
) -> TradeClosed:
    return replace(
        trade,
        envelope=replace(trade.envelope, event_id=EventId(f"{trade.trade_id}-r{revision}")),
        revision=revision,
        supersedes=trade.envelope.event_id,
        correction_id=f"correction-{revision}",
        voided=voided,
        **fields,  # type: ignore[arg-type]
    )


def by_window(
    snapshots: list[PerformanceSnapshot],
) -> dict[tuple[MetricWindow, str], PerformanceSnapshot]:
    return {(s.window, s.window_key): s for s in snapshots}


def test_the_scoped_row_carries_the_revision_and_the_void() -> None:
    trade = closed("21002")
    rows = [
        o.value or b""
        for o in run(
            ScopeTrades(CODEC),
            [Record("derived.trades", 0, 0, None, CODEC.encode(revised(trade, 2, voided=True)))],
        )
    ]
    assert {(json.loads(r)["revision"], json.loads(r)["voided"]) for r in rows} == {(2, True)}
    first = [
        o.value or b""
        for o in run(
            ScopeTrades(CODEC), [Record("derived.trades", 0, 0, None, CODEC.encode(trade))]
        )
    ]
    assert all("revision" not in json.loads(r) for r in first)  # rows as they were before


def test_revisions_and_voids_give_the_snapshots_of_the_corrected_trades() -> None:
    kept, amended, busted = (closed(p) for p in ("21002", "20999", "21001"))
    better = revised(amended, 1, net_pnl=amended.net_pnl + Decimal(40))
    gone = revised(busted, 1, voided=True)
    stage = ScoreTrades(CODEC, rolling=2)
    run(stage, [scoped(t, SCOPE, n) for n, t in enumerate((kept, amended, busted))])
    outputs = run(stage, [scoped(better, SCOPE, 3), scoped(gone, SCOPE, 4)])
    corrected = ScoreTrades(CODEC, rolling=2)
    expected = snapshots_in(
        run(corrected, [scoped(kept, SCOPE, 0), scoped(replace(better, revision=0), SCOPE, 1)])
    )
    got = by_window(snapshots_in(outputs))
    for key, snapshot in by_window(expected).items():
        figures = got[key]
        assert (figures.trades, figures.net_profit, figures.max_drawdown) == (
            snapshot.trades,
            snapshot.net_profit,
            snapshot.max_drawdown,
        )
        assert figures.win_rate == snapshot.win_rate and figures.sharpe == snapshot.sharpe
        assert figures.scope_trades == 5 > snapshot.scope_trades == 2  # 3 trades, 2 revisions
    # the changelog holds each trade's latest row under its key
    rows = {o.key: json.loads(o.value or b"") for o in outputs if o.topic == LEDGERS_TOPIC}
    assert rows[f"{SCOPE}|{busted.trade_id}".encode()]["voided"] is True
    assert rows[f"{SCOPE}|{amended.trade_id}".encode()]["revision"] == 1
    # older revisions redelivered change nothing
    assert (
        run(stage, [scoped(amended, SCOPE, 5), scoped(busted, SCOPE, 6), scoped(gone, SCOPE, 7)])
        == []
    )


def test_a_restored_stage_counts_the_latest_revisions() -> None:
    kept, amended = closed("21002"), closed("20999")
    better = revised(amended, 1, net_pnl=Decimal(100))
    stage = ScoreTrades(CODEC, rolling=100)
    changelog = [
        o
        for n, batch in enumerate(([kept, amended], [better]))
        for o in run(stage, [scoped(t, SCOPE, 10 * n + i) for i, t in enumerate(batch)])
        if o.topic == LEDGERS_TOPIC
    ]
    later = closed("21001")
    expected = snapshots_in(run(stage, [scoped(later, SCOPE, 20)]))
    compacted: dict[bytes | None, bytes] = {o.key: o.value or b"" for o in changelog}
    restarted = ScoreTrades(CODEC, rolling=100)
    restarted.restore(
        1, [Record(LEDGERS_TOPIC, 1, n, k, v) for n, (k, v) in enumerate(compacted.items())]
    )
    assert snapshots_in(run(restarted, [scoped(later, SCOPE, 20)])) == expected
    assert run(restarted, [scoped(amended, SCOPE, 21)]) == []


def test_a_void_that_empties_the_scope_publishes_snapshots_of_no_trades() -> None:
    only = closed("21002")
    stage = ScoreTrades(CODEC, rolling=20)
    run(stage, [scoped(only, SCOPE, 0)])
    published = snapshots_in(run(stage, [scoped(revised(only, 1, voided=True), SCOPE, 1)]))
    assert [(s.window.value, s.trades, s.as_of_trade_id) for s in published] == [
        ("all_time", 0, None),
        ("trading_day", 0, None),
        ("last_trades", 0, None),
    ]
