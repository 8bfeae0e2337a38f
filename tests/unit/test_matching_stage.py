"""The matching stage's logic, record in and records out: batching never changes the trades, a
restored stage continues exactly, redeliveries and bad records change nothing."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import default_codec
from schemas.events import ExecutionReported, TradeClosed
from streams.deriver import Batch, Output, Record
from streams.matching_stage import BOOKS_TOPIC, TRADES_TOPIC, MatchExecutions
from tests.stubs import buy, sell

CODEC = default_codec()


def records(executions: list[ExecutionReported], partition: int = 0) -> list[Record]:
    return [
        Record("raw.executions", partition, n, b"k", CODEC.encode(e))
        for n, e in enumerate(executions)
    ]


def run(stage: MatchExecutions, batch_records: list[Record]) -> list[Output]:
    batch = Batch()
    stage.process(batch_records, batch)
    return batch.outputs


def trades_in(outputs: list[Output]) -> list[TradeClosed]:
    decoded = [CODEC.decode(o.value or b"") for o in outputs if o.topic == TRADES_TOPIC]
    return [t for t in decoded if isinstance(t, TradeClosed)]


def session(draw: st.DrawFn) -> list[ExecutionReported]:
    sides = draw(st.lists(st.sampled_from([buy, sell]), min_size=1, max_size=12))
    return [
        side(
            price=str(21000 + draw(st.integers(-8, 8))),
            quantity=draw(st.integers(1, 3)),
            commission=Decimal("2.09"),
            account=draw(st.sampled_from(["A", "B"])),
        )
        for side in sides
    ]


@settings(max_examples=50)
@given(data=st.data())
def test_batch_boundaries_never_change_the_trades(data: st.DataObject) -> None:
    executions = session(data.draw)
    whole = trades_in(run(MatchExecutions(CODEC), records(executions)))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(executions) - 1)))))
    stage, pieces = MatchExecutions(CODEC), []
    for start, end in zip([0, *cuts], [*cuts, len(executions)], strict=True):
        pieces += trades_in(run(stage, records(executions)[start:end]))
    assert pieces == whole  # same ids, same values, same order


@settings(max_examples=50)
@given(data=st.data())
def test_a_restored_stage_continues_like_the_one_that_stopped(data: st.DataObject) -> None:
    executions = session(data.draw)
    cut = data.draw(st.integers(0, len(executions)))
    expected = trades_in(run(MatchExecutions(CODEC), records(executions)))

    first = MatchExecutions(CODEC)
    before = run(first, records(executions)[:cut])
    changelog = [
        Record(BOOKS_TOPIC, 0, n, o.key, o.value or b"")
        for n, o in enumerate(o for o in before if o.topic == BOOKS_TOPIC)
    ]
    restored = MatchExecutions(CODEC)
    restored.restore(0, changelog)
    after = run(restored, records(executions)[cut:])
    assert trades_in(before) + trades_in(after) == expected
    # and everything already applied is recognised when delivered again
    assert trades_in(run(restored, records(executions))) == []


def test_books_are_written_once_per_batch_on_the_source_partition() -> None:
    outputs = run(MatchExecutions(CODEC), records([buy(), buy(), sell(quantity=2)], partition=2))
    books = [o for o in outputs if o.topic == BOOKS_TOPIC and o.key.startswith(b"book|")]
    seen = [o for o in outputs if o.topic == BOOKS_TOPIC and o.key.startswith(b"seen|")]
    assert len(books) == 1 and len(seen) == 3
    assert all(o.partition == 2 for o in books + seen)
    assert len(trades_in(outputs)) == 2


def test_bad_records_go_to_the_dead_letter_topic_and_change_nothing() -> None:
    stage = MatchExecutions(CODEC)
    bad = [
        Record("raw.executions", 0, 0, b"k", b"garbage"),
        *records([buy(instrument="XYZ 12-26")]),
        *records([buy(quantity=0)]),
    ]
    outputs = run(stage, bad)
    codes = [dict(o.headers)["code"] for o in outputs]
    assert codes == [b"undecodable", b"unknown_instrument", b"invalid"]
    assert all(o.topic == "dead-letter" for o in outputs)
    assert stage.books == {0: {}}
