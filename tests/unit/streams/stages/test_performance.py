"""The performance stages' logic, record in and records out (the deriver's Kafka side is in the
integration tests)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from domain.contracts import spec_for
from domain.matching import Book, apply
from schemas.codec import default_codec
from schemas.events import PerformanceSnapshot, TradeClosed
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.performance import (
    LEDGERS_TOPIC,
    SCOPES_TOPIC,
    SNAPSHOTS_TOPIC,
    ScopeTrades,
    ScoreTrades,
)
from tests.fixtures.stubs import buy, sell

CODEC = default_codec()
NQ = spec_for("NQ 12-26")


def closed(exit_price: str, **fields: Any) -> TradeClosed:
    book, _ = apply(Book(), buy(price="21000", **fields), NQ)
    _, (trade,) = apply(book, sell(price=exit_price, **fields), NQ)
    return trade


def scoped(trade: TradeClosed, scope: str, offset: int, partition: int = 1) -> Record:
    """The record ``ScopeTrades`` publishes for ``trade`` in ``scope``."""
    published = run(ScopeTrades(CODEC), [Record("derived.trades", 0, 0, None, CODEC.encode(trade))])
    (row,) = [o.value for o in published if o.key == scope.encode()]
    return Record(SCOPES_TOPIC, partition, offset, scope.encode(), row or b"")


def legacy(trade: TradeClosed, scope: str, offset: int, partition: int = 1) -> Record:
    """What ``ScopeTrades`` published before scoped trade rows: the ``TradeClosed`` itself."""
    return Record(SCOPES_TOPIC, partition, offset, scope.encode(), CODEC.encode(trade))


def run(stage: ScoreTrades | ScopeTrades, records: list[Record]) -> list[Output]:
    batch = Batch()
    stage.process(records, batch)
    return batch.outputs


def snapshots_in(outputs: list[Output]) -> list[PerformanceSnapshot]:
    decoded = [CODEC.decode(o.value or b"") for o in outputs if o.topic == SNAPSHOTS_TOPIC]
    return [s for s in decoded if isinstance(s, PerformanceSnapshot)]


def test_a_trade_fans_out_to_each_of_its_scopes() -> None:
    trade = closed("21001", strategy="Breakout")
    record = Record("derived.trades", 0, 7, b"Sim101|NQ 12-26", CODEC.encode(trade))
    outputs = run(ScopeTrades(CODEC), [record])
    assert [(o.topic, o.key) for o in outputs] == [
        (SCOPES_TOPIC, b"account:Sim101"),
        (SCOPES_TOPIC, b"instrument:Sim101|NQ 12-26"),
        (SCOPES_TOPIC, b"strategy:Sim101|Breakout"),
    ]
    rows = [json.loads(o.value or b"") for o in outputs]
    assert [r["scope"] for r in rows] == [o.key.decode() for o in outputs]
    assert {(r["trade_id"], Decimal(r["net"]), r["exit_time"]) for r in rows} == {
        (trade.trade_id, trade.net_pnl, trade.exit_time.isoformat())
    }
    assert rows[2]["strategy"] == "Breakout" and rows[1]["instrument"] == "NQ 12-26"


def test_trades_published_before_the_rows_score_the_same() -> None:
    trades = [closed(p, strategy="Breakout") for p in ("21002", "20999", "21001")]
    for scope in ("account:Sim101", "strategy:Sim101|Breakout"):
        rows = run(
            ScoreTrades(CODEC, rolling=2), [scoped(t, scope, n) for n, t in enumerate(trades)]
        )
        old = run(
            ScoreTrades(CODEC, rolling=2), [legacy(t, scope, n) for n, t in enumerate(trades)]
        )
        assert snapshots_in(old) == snapshots_in(rows) and len(snapshots_in(rows)) == 3
        assert [(o.key, o.value) for o in old] == [(o.key, o.value) for o in rows]


def test_a_batch_stores_every_trade_and_publishes_the_last_snapshot_of_each_window() -> None:
    trades = [closed(p) for p in ("21002", "20999", "21001")]
    stage = ScoreTrades(CODEC, rolling=2)
    outputs = run(stage, [scoped(t, "account:Sim101", n) for n, t in enumerate(trades)])
    rows = [o for o in outputs if o.topic == LEDGERS_TOPIC]
    assert [o.key for o in rows] == [f"account:Sim101|{t.trade_id}".encode() for t in trades]
    assert all(o.partition == 1 for o in rows)  # the changelog follows the source partition
    published = snapshots_in(outputs)
    assert [(s.window.value, s.trades) for s in published] == [
        ("all_time", 3),
        ("trading_day", 3),
        ("last_trades", 2),
    ]
    # a redelivered trade changes nothing
    assert run(stage, [scoped(trades[0], "account:Sim101", 0)]) == []


def test_a_restored_stage_continues_exactly_where_the_old_one_stopped() -> None:
    trades = [closed(p) for p in ("21002", "20999", "21001", "21000.25")]
    whole = ScoreTrades(CODEC, rolling=100)
    first = run(whole, [scoped(t, "account:Sim101", n) for n, t in enumerate(trades[:3])])
    expected = snapshots_in(run(whole, [scoped(trades[3], "account:Sim101", 3)]))

    restarted = ScoreTrades(CODEC, rolling=100)
    changelog = [
        Record(LEDGERS_TOPIC, 1, n, o.key, o.value or b"")
        for n, o in enumerate(o for o in first if o.topic == LEDGERS_TOPIC)
    ]
    restarted.restore(1, changelog)
    assert snapshots_in(run(restarted, [scoped(trades[3], "account:Sim101", 3)])) == expected
    restarted.forget([1])
    assert restarted.ledgers == {}


def test_each_scope_measures_its_drawdown_share_against_its_accounts_capital() -> None:
    trades = [closed(p, strategy="Breakout") for p in ("21010", "20990", "21001")]
    capitals = {"Sim101": Decimal(10_000)}
    stage = ScoreTrades(CODEC, rolling=100, capital=capitals.get)
    records = [scoped(t, "strategy:Sim101|Breakout", n) for n, t in enumerate(trades)]
    (all_time, *_) = snapshots_in(run(stage, records))
    nets = [t.net_pnl for t in trades]
    # +200 less costs to the peak, then the second trade's loss: a share of 10,000 + the peak
    assert all_time.max_drawdown_pct == float(-nets[1] / (Decimal(10_000) + nets[0]))
    without = snapshots_in(run(ScoreTrades(CODEC, rolling=100), records))[0]
    assert without.max_drawdown_pct is None
    assert without.envelope.event_id != all_time.envelope.event_id  # other figures, another id
    restored = ScoreTrades(CODEC, rolling=100, capital=capitals.get)
    restored.restore(1, [Record(LEDGERS_TOPIC, 1, 0, r.key, r.value) for r in records[:2]])
    (again, *_) = snapshots_in(run(restored, records[2:]))
    assert again == all_time


def test_bad_records_go_to_the_dead_letter_topic_with_their_reason() -> None:
    stage = ScoreTrades(CODEC, rolling=100)
    trade = closed("21001")
    garbage = Record(SCOPES_TOPIC, 0, 5, b"account:Sim101", b"not a row")
    misnamed = scoped(trade, "account:Sim101", 6)
    misnamed = Record(SCOPES_TOPIC, 1, 6, b"account:Other", misnamed.value)
    incomplete = Record(SCOPES_TOPIC, 0, 7, b"account:Sim101", b'{"scope": "account:Sim101"}')
    old_misnamed = legacy(trade, "account:Other", 8)
    outputs = run(stage, [garbage, misnamed, incomplete, old_misnamed])
    assert [o.topic for o in outputs] == ["dead-letter"] * 4
    reasons = [dict(o.headers) for o in outputs]
    assert [r["code"] for r in reasons] == [
        b"undecodable",
        b"wrong_scope",
        b"undecodable",
        b"wrong_scope",
    ]
    assert b"account:Other" in reasons[1]["reason"] and b"account:Other" in reasons[3]["reason"]
    assert reasons[1]["origin"] == f"{SCOPES_TOPIC}/1/6".encode()
    assert outputs[0].value == garbage.value  # the record itself, unchanged
