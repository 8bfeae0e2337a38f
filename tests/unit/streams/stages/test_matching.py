"""The matching stage's logic, record in and records out: batching never changes the trades, a
restored stage continues exactly, redeliveries and bad records change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from schemas.codec import default_codec
from schemas.events import ExecutionReported, PositionChanged, TradeClosed
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.matching import BOOKS_TOPIC, POSITIONS_TOPIC, TRADES_TOPIC, MatchExecutions
from tests.fixtures.stubs import BASE_TIME, bar, buy, sell, signal

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


def session(data: st.DataObject) -> list[ExecutionReported]:
    sides = data.draw(st.lists(st.sampled_from([buy, sell]), min_size=1, max_size=12))
    return [
        side(
            price=str(21000 + data.draw(st.integers(-8, 8))),
            quantity=data.draw(st.integers(1, 3)),
            commission=Decimal("2.09"),
            account=data.draw(st.sampled_from(["A", "B"])),
        )
        for side in sides
    ]


@settings(max_examples=50)
@given(data=st.data())
def test_batch_boundaries_never_change_the_trades(data: st.DataObject) -> None:
    executions = session(data)
    whole = trades_in(run(MatchExecutions(CODEC), records(executions)))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(executions) - 1)))))
    stage, pieces = MatchExecutions(CODEC), []
    for start, end in zip([0, *cuts], [*cuts, len(executions)], strict=True):
        pieces += trades_in(run(stage, records(executions)[start:end]))
    assert pieces == whole  # same ids, same values, same order


@settings(max_examples=50)
@given(data=st.data())
def test_a_restored_stage_continues_like_the_one_that_stopped(data: st.DataObject) -> None:
    executions = session(data)
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
    codes = [dict(o.headers)["code"] for o in outputs if o.topic == "dead-letter"]
    assert codes == [b"undecodable", b"unknown_instrument", b"invalid"]
    assert not [o for o in outputs if o.topic in (TRADES_TOPIC, POSITIONS_TOPIC)]
    assert stage.books == {0: {}}
    assert stage.held == {0: []} and stage.ready == {0: []}


def positions_in(outputs: list[Output]) -> list[PositionChanged]:
    decoded = [CODEC.decode(o.value or b"") for o in outputs if o.topic == POSITIONS_TOPIC]
    return [p for p in decoded if isinstance(p, PositionChanged)]


def flush(stage: MatchExecutions) -> list[Output]:
    """A tick once the source is read to its end and the clock is long past everything."""
    stage.clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
    batch = Batch()
    stage.tick(batch, frozenset({0}))
    return batch.outputs


def derived(outputs: list[Output]) -> tuple[list[TradeClosed], list[PositionChanged]]:
    return trades_in(outputs), positions_in(outputs)


GRACE = timedelta(seconds=3)


@settings(max_examples=50)
@given(data=st.data())
def test_executions_late_within_the_grace_window_change_nothing(data: st.DataObject) -> None:
    executions = session(data)  # one a second, in event-time order
    jitter = data.draw(st.lists(st.integers(0, 2999), min_size=len(executions)))
    # each arrives up to 2.999 s late: never after one 3 s (the grace) later than itself
    shuffled = [
        executions[n] for n in sorted(range(len(executions)), key=lambda n: n * 1000 + jitter[n])
    ]
    in_order = MatchExecutions(CODEC, grace=GRACE)
    expected = derived(run(in_order, records(executions)) + flush(in_order))

    stage = MatchExecutions(CODEC, grace=GRACE)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(executions) - 1)))))
    outputs: list[Output] = []
    for start, end in zip([0, *cuts], [*cuts, len(executions)], strict=True):
        outputs += run(stage, records(shuffled)[start:end])
    assert derived(outputs + flush(stage)) == expected


def test_the_grace_window_holds_an_execution_until_a_later_one_or_the_clock() -> None:
    stage = MatchExecutions(CODEC, grace=GRACE)
    entry = buy(ts_event=BASE_TIME)
    exit_ = sell(ts_event=BASE_TIME + timedelta(seconds=1))
    out = run(stage, records([exit_, entry]))  # the exit arrives first
    assert positions_in(out) == [] and len(stage.held[0]) == 2
    stage.clock = lambda: exit_.envelope.ts_ingested + GRACE  # due, but more may be coming
    batch = Batch()
    stage.tick(batch, frozenset())
    assert positions_in(batch.outputs) == []
    trades = trades_in(flush(stage))
    assert [t.direction.value for t in trades] == ["long"]


@settings(max_examples=30)
@given(data=st.data())
def test_a_restart_loses_no_held_execution(data: st.DataObject) -> None:
    executions = session(data)
    cut = data.draw(st.integers(0, len(executions)))
    whole = MatchExecutions(CODEC, grace=GRACE)
    expected = trades_in(run(whole, records(executions)) + flush(whole))

    first = MatchExecutions(CODEC, grace=GRACE)
    before = run(first, records(executions)[:cut])
    changelog = [
        Record(BOOKS_TOPIC, 0, n, o.key, o.value or b"")
        for n, o in enumerate(o for o in before if o.topic == BOOKS_TOPIC)
    ]
    restored = MatchExecutions(CODEC, grace=GRACE)
    restored.restore(0, changelog)
    after = run(restored, records(executions)[cut:]) + flush(restored)
    assert trades_in(before) + trades_in(after) == expected


def compacted(outputs: list[Output]) -> dict[bytes, bytes]:
    """What a compacted changelog keeps of ``outputs``: the last value per key, no tombstones."""
    kept: dict[bytes, bytes] = {}
    for o in outputs:
        if o.topic != BOOKS_TOPIC:
            continue
        if o.value is None:
            kept.pop(o.key, None)
        else:
            kept[o.key] = o.value
    return kept


def waiting(stage: MatchExecutions) -> set[bytes]:
    queues = [*stage.held.values(), *stage.ready.values()]
    return {f"held|{h.record.offset}".encode() for q in queues for h in q}


@settings(max_examples=40)
@given(data=st.data())
def test_the_changelog_holds_exactly_the_waiting_executions_through_restarts(
    data: st.DataObject,
) -> None:
    """After every batch the changelog names exactly the executions still waiting (one read,
    released and applied in a batch leaves no record), and a stage restored from it at any
    batch boundary, again and again, derives what one never stopped derives."""
    executions = session(data)
    whole = MatchExecutions(CODEC, grace=GRACE)
    expected = trades_in(run(whole, records(executions)) + flush(whole))

    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(executions) - 1)))))
    restarts = data.draw(st.lists(st.booleans(), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    stage, log, trades = MatchExecutions(CODEC, grace=GRACE), [], []
    for (start, end), restart in zip(
        zip([0, *cuts], [*cuts, len(executions)], strict=True), restarts, strict=True
    ):
        outputs = run(stage, records(executions)[start:end])
        log += [o for o in outputs if o.topic == BOOKS_TOPIC]
        trades += trades_in(outputs)
        live = {k for k in compacted(log) if k.startswith(b"held|")}
        assert live == waiting(stage)
        if restart:
            stage = MatchExecutions(CODEC, grace=GRACE)
            stage.restore(
                0,
                [
                    Record(BOOKS_TOPIC, 0, n, k, v)
                    for n, (k, v) in enumerate(compacted(log).items())
                ],
            )
    assert trades + trades_in(flush(stage)) == expected


def test_an_execution_applied_in_the_batch_that_read_it_leaves_no_held_record() -> None:
    stage = MatchExecutions(CODEC, grace=GRACE)
    entry = buy(ts_event=BASE_TIME)
    later = sell(ts_event=BASE_TIME + GRACE)  # releases the entry by the log alone
    outputs = run(stage, records([entry, later]))
    held = [o for o in outputs if o.key.startswith(b"held|")]
    assert [o.key for o in held] == [b"held|1"] and held[0].value is not None
    assert len(positions_in(outputs)) == 1
    watermarks = [o for o in outputs if o.key == b"watermark"]
    assert [o.value for o in watermarks] == [later.envelope.ts_event.isoformat().encode()]


MINUTE = timedelta(minutes=1)


def market_stage(**kwargs: Any) -> MatchExecutions:
    stage = MatchExecutions(CODEC, **kwargs)
    for close, high, low in ((1, "21010", "20995"), (2, "21020", "20990")):
        stage.context.observe("raw.market", 0, bar(BASE_TIME + close * MINUTE, high, low))
    # known only after the exit: it must not count
    late = bar(BASE_TIME + 2 * MINUTE, "21100", "20900", ingested=BASE_TIME + 10 * MINUTE)
    stage.context.observe("raw.market", 1, late)
    stage.context.observe("raw.signals", 0, signal("sig-1", "20980", at=BASE_TIME))
    return stage


def test_mae_mfe_and_r_multiple_come_from_the_context_known_at_the_exit() -> None:
    stage = market_stage()
    entry = buy(price="21000", ts_event=BASE_TIME + timedelta(seconds=1), signal_id="sig-1")
    exit_ = sell(price="21005", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=30))
    out = run(stage, records([entry, exit_]))
    (trade,) = trades_in(out)
    # NQ: $20 a point; low 20990 and high 21020 seen during the trade
    assert (trade.mae, trade.mfe) == (Decimal(200), Decimal(400))
    assert trade.initial_stop == Decimal(20980) and trade.risk == Decimal(400)
    assert trade.net_pnl == Decimal("95.82")
    assert trade.r_multiple == Decimal("0.23955")
    opened, closed = positions_in(out)
    assert (opened.quantity, opened.average_price, opened.initial_stop) == (
        1,
        Decimal(21000),
        Decimal(20980),
    )
    assert opened.oldest_entry == entry.envelope.ts_event
    assert (closed.quantity, closed.average_price, closed.realized_pnl) == (
        0,
        None,
        Decimal("95.82"),
    )
    assert [opened.sequence, closed.sequence] == [1, 2]


def test_a_short_trade_mirrors_the_excursions() -> None:
    stage = market_stage()
    entry = sell(price="21000", ts_event=BASE_TIME + timedelta(seconds=1))
    exit_ = buy(price="21005", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=30))
    (trade,) = trades_in(run(stage, records([entry, exit_])))
    assert (trade.mae, trade.mfe) == (Decimal(400), Decimal(200))
    assert (trade.risk, trade.r_multiple) == (None, None)


def test_without_a_bar_during_the_trade_the_excursions_are_unknown() -> None:
    stage = market_stage()
    entry = buy(price="21000", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=1))
    exit_ = sell(price="21005", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=30))
    (trade,) = trades_in(run(stage, records([entry, exit_])))
    assert (trade.mae, trade.mfe) == (None, None)


def test_an_execution_far_behind_its_partition_gets_no_context() -> None:
    stage = market_stage(retention=timedelta(hours=1))
    ahead = buy(account="Other", ts_event=BASE_TIME + timedelta(hours=2))
    entry = buy(price="21000", ts_event=BASE_TIME + timedelta(seconds=1), signal_id="sig-1")
    exit_ = sell(price="21005", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=30))
    (trade,) = trades_in(run(stage, records([ahead, entry, exit_])))
    assert (trade.mae, trade.mfe, trade.risk) == (None, None, None)


class _SilentFeed:
    """A context reader that never reads anything: the context stays incomplete."""

    def start(self, since: datetime) -> None:
        pass

    def poll(self, needed: datetime | None) -> None:
        pass


def test_executions_waiting_for_context_are_restored_in_their_order() -> None:
    waiting = MatchExecutions(CODEC, grace=GRACE, feed=_SilentFeed())  # type: ignore[arg-type]
    waiting.context.watch("raw.market", 0)  # never read: every execution waits for it
    entry = buy(ts_event=BASE_TIME)
    exit_ = sell(ts_event=BASE_TIME + timedelta(seconds=1), price="21001")
    again = buy(ts_event=BASE_TIME + timedelta(seconds=2))
    closing = sell(ts_event=BASE_TIME + timedelta(seconds=3), price="21002")
    arrivals = [exit_, entry, closing, again]  # each pair out of order, within the grace
    outputs: list[Output] = []
    for n, execution in enumerate(arrivals):  # one batch each
        batch = Batch()
        waiting.process([Record("raw.executions", 0, n, b"k", CODEC.encode(execution))], batch)
        waiting.tick(batch, frozenset())
        outputs += batch.outputs
    outputs += flush(waiting)
    assert trades_in(outputs) == [] and len(waiting.ready[0]) == 4  # all out of the window
    changelog = [
        Record(BOOKS_TOPIC, 0, n, o.key, o.value or b"")
        for n, o in enumerate(o for o in outputs if o.topic == BOOKS_TOPIC)
    ]
    restored = MatchExecutions(CODEC, grace=GRACE)
    restored.restore(0, changelog)
    trades = trades_in(flush(restored))
    assert [(t.direction.value, t.gross_pnl) for t in trades] == [
        ("long", Decimal(20)),
        ("long", Decimal(40)),
    ]


def test_each_closed_trade_is_timed_from_its_ingestion_and_from_its_exit() -> None:
    def observed(name: str) -> tuple[float, float]:
        """(count, sum) of a histogram of the stage's (this process's registry)."""
        count = REGISTRY.get_sample_value(f"fillstream_stream_{name}_seconds_count") or 0.0
        return count, REGISTRY.get_sample_value(f"fillstream_stream_{name}_seconds_sum") or 0.0

    now = datetime.now(UTC)
    exited, ingested = now - timedelta(hours=2), now - timedelta(seconds=3)
    entry = buy(ts_event=exited - timedelta(minutes=5), ts_ingested=ingested)
    exit_ = sell(ts_event=exited, ts_ingested=ingested)
    ingest_before, event_before = observed("ingest_to_derived"), observed("event_to_derived")
    assert len(trades_in(run(MatchExecutions(CODEC), records([entry, exit_])))) == 1
    ingest_after, event_after = observed("ingest_to_derived"), observed("event_to_derived")
    assert ingest_after[0] - ingest_before[0] == event_after[0] - event_before[0] == 1
    assert 3 <= ingest_after[1] - ingest_before[1] < 60  # from the bridge recording the exit
    assert 7200 <= event_after[1] - event_before[1] < 7260  # from the exit, two hours ago
