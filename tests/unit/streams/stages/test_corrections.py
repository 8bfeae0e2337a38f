"""The matching stage follows corrections and busts: it publishes the revised trades and the
position as it now stands, refuses what it cannot correct, and its journal survives restarts
and batching exactly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import default_codec
from schemas.events import (
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    PositionChanged,
    Side,
    TradeClosed,
)
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.matching import BOOKS_TOPIC, MatchExecutions
from tests.fixtures import stubs
from tests.fixtures.corrections import busted, corrected
from tests.fixtures.stubs import BASE_TIME, buy, sell, signal
from tests.unit.streams.stages.test_matching import (
    GRACE,
    MINUTE,
    compacted,
    flush,
    market_stage,
    positions_in,
    trades_in,
)

CODEC = default_codec()
Event = ExecutionReported | ExecutionCorrected | ExecutionBusted


def records(events: Sequence[Event], start: int = 0) -> list[Record]:
    return [
        Record("raw.executions", 0, start + n, b"k", CODEC.encode(e)) for n, e in enumerate(events)
    ]


def run(stage: MatchExecutions, events: Sequence[Event], start: int = 0) -> list[Output]:
    batch = Batch()
    stage.process(records(events, start), batch)
    return batch.outputs


def dead(outputs: list[Output]) -> list[tuple[bytes, str]]:
    return [
        (dict(o.headers)["code"], dict(o.headers)["reason"].decode())
        for o in outputs
        if o.topic == "dead-letter"
    ]


def test_a_price_amendment_publishes_revision_1_and_the_position_again() -> None:
    stage = MatchExecutions(CODEC)
    entry, exit_ = buy(price="21000"), sell(price="21010")
    (original,) = trades_in(run(stage, [entry, exit_]))
    fix = corrected(exit_, price=Decimal("21005"))
    out = run(stage, [fix], start=2)
    (revision,) = trades_in(out)
    assert (revision.trade_id, revision.revision) == (original.trade_id, 1)
    assert revision.supersedes == original.envelope.event_id
    assert revision.correction_id == fix.envelope.event_id
    assert revision.gross_pnl == Decimal(100) and revision.net_pnl == Decimal("95.82")
    (position,) = positions_in(out)
    assert (position.sequence, position.quantity, position.realized_pnl) == (
        3,
        0,
        Decimal("95.82"),
    )
    assert position.envelope.causation_ids == (fix.envelope.event_id,)
    # the same correction again: nothing
    assert [o for o in run(stage, [corrected(exit_, price=Decimal("21005"))], 3)] == []


def test_a_bust_voids_the_trade_and_a_second_bust_does_nothing() -> None:
    stage = MatchExecutions(CODEC)
    entry, exit_ = buy(), sell(price="21004")
    (original,) = trades_in(run(stage, [entry, exit_]))
    out = run(stage, [busted(exit_)], 2)
    (void,) = trades_in(out)
    assert void.voided and void.revision == 1 and void.net_pnl == original.net_pnl
    (position,) = positions_in(out)
    assert position.quantity == 1  # the entry is open again
    again = run(stage, [busted(exit_)], 3)
    assert trades_in(again) == [] and positions_in(again) == [] and dead(again) == []
    # a redelivered busted execution stays busted
    assert trades_in(run(stage, [exit_], 4)) == []


def test_what_cannot_be_corrected_goes_to_the_dead_letter_topic() -> None:
    stage = MatchExecutions(CODEC, window=timedelta(hours=2))
    # explicit times: the stubs' default ones grow with every stub the session has made
    old, entry = buy(ts_event=BASE_TIME), buy(ts_event=BASE_TIME + timedelta(hours=5))
    never = sell(ts_event=BASE_TIME + timedelta(minutes=1))
    run(stage, [old, entry])  # the second folds the first out of the 2 h window
    out = run(stage, [corrected(never), corrected(old, price=Decimal(1))], 2)
    (unknown, late) = dead(out)
    assert unknown[0] == late[0] == b"uncorrectable"
    assert never.execution_id in unknown[1] and "unknown" in unknown[1]
    assert old.execution_id in late[1] and "FILLSTREAM_CORRECTION_WINDOW_HOURS (2 h)" in late[1]
    run(stage, [busted(entry, envelope=stubs.envelope(ts_event=entry.envelope.ts_event))], 4)
    (busted_,) = dead(run(stage, [corrected(entry, envelope=stubs.envelope(
        ts_event=entry.envelope.ts_event))], 5))  # fmt: skip
    assert busted_[0] == b"uncorrectable" and "was busted" in busted_[1]


def test_a_correction_that_cannot_be_matched_is_invalid() -> None:
    stage = MatchExecutions(CODEC)
    entry = buy()
    run(stage, [entry])
    ((code, reason),) = dead(run(stage, [corrected(entry, quantity=0)], 1))
    assert code == b"invalid" and "quantity" in reason


def test_a_side_correction_rematches_the_executions_after_it() -> None:
    stage = MatchExecutions(CODEC)
    first, second, third = buy(price="21000"), sell(price="21004"), sell(price="21006")
    (trade,) = trades_in(run(stage, [first, second, third]))
    out = run(stage, [corrected(second, side=Side.BUY)], 3)
    void, new = trades_in(out)
    assert void.trade_id == trade.trade_id and void.voided
    assert (new.revision, new.exit_price, new.quantity, new.entry_price) == (
        0,
        Decimal("21006"),
        1,
        Decimal("21000"),
    )
    assert positions_in(out)[0].quantity == 1  # the corrected buy is still open


def test_the_journal_keeps_only_the_correction_window() -> None:
    stage = MatchExecutions(CODEC, window=timedelta(hours=1))
    hour = timedelta(hours=1)
    executions = [
        buy(ts_event=BASE_TIME),
        sell(ts_event=BASE_TIME + timedelta(minutes=1)),
        buy(ts_event=BASE_TIME + 2 * hour),
    ]
    kept = compacted(run(stage, executions))
    entries = sorted(k for k in kept if k.startswith(b"entry|"))
    assert entries == [b"entry|Sim101|NQ 12-26||3"]  # the first two were folded in
    assert b"checkpoint|Sim101|NQ 12-26|" in kept


def test_a_revision_keeps_the_market_context_and_the_recorded_stop() -> None:
    stage = market_stage()
    entry = buy(price="21000", ts_event=BASE_TIME + timedelta(seconds=1), signal_id="sig-1")
    exit_ = sell(price="21005", ts_event=BASE_TIME + 2 * MINUTE + timedelta(seconds=30))
    (original,) = trades_in(run(stage, [entry, exit_]))
    # the context now says another stop for the signal: the lot keeps the one it opened with
    stage.context.observe("raw.signals", 0, signal("sig-1", "20900", at=BASE_TIME))
    (revision,) = trades_in(run(stage, [corrected(exit_, price=Decimal("21015"))], 2))
    assert (
        (revision.mae, revision.mfe) == (original.mae, original.mfe) == (Decimal(200), Decimal(400))
    )
    assert revision.initial_stop == original.initial_stop == Decimal(20980)
    assert revision.r_multiple == Decimal("0.73955")  # (15 points × $20 − $4.18) / $400


def test_a_correction_stamped_before_its_fill_still_comes_after_it() -> None:
    stage = MatchExecutions(CODEC, grace=GRACE)
    entry = buy(ts_event=BASE_TIME)
    exit_ = sell(ts_event=BASE_TIME + timedelta(seconds=1), price="21002")
    # the machine that reported the amendment runs 2 s behind the exchange's time
    early = stubs.envelope(ts_event=BASE_TIME - timedelta(seconds=1))
    out = run(stage, [entry, exit_, corrected(exit_, envelope=early, price=Decimal(21001))])
    out += flush(stage)
    assert dead(out) == []
    assert [(t.revision, t.exit_price) for t in trades_in(out)] == [
        (0, Decimal(21002)),
        (1, Decimal(21001)),
    ]


# --- properties -------------------------------------------------------------------------------


def session(data: st.DataObject) -> list[Event]:
    """Executions of two accounts, then corrections and busts of some of them, interleaved."""
    executions: list[ExecutionReported] = [
        side(
            price=str(21000 + data.draw(st.integers(-8, 8))),
            quantity=data.draw(st.integers(1, 3)),
            account=data.draw(st.sampled_from(["A", "B"])),
        )
        for side in data.draw(st.lists(st.sampled_from([buy, sell]), min_size=1, max_size=10))
    ]
    events: list[Event] = list(executions)
    for _ in range(data.draw(st.integers(0, 4))):
        n = data.draw(st.integers(0, len(executions) - 1))
        target = executions[n]
        at = data.draw(st.integers(n + 1, len(events)))
        envelope = stubs.envelope(ts_event=target.envelope.ts_event + timedelta(seconds=1))
        change: Event
        if data.draw(st.booleans()):
            change = busted(target, envelope=envelope)
        else:
            change = corrected(
                target,
                envelope=envelope,
                side=data.draw(st.sampled_from([Side.BUY, Side.SELL])),
                quantity=data.draw(st.integers(1, 3)),
                price=Decimal(21000 + data.draw(st.integers(-8, 8))),
            )
        events.insert(max(at, events.index(target) + 1), change)
    return events


def derived(outputs: list[Output]) -> tuple[list[TradeClosed], list[PositionChanged]]:
    return trades_in(outputs), positions_in(outputs)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), grace=st.sampled_from([timedelta(0), GRACE]))
def test_restarts_and_batches_never_change_what_corrections_publish(
    data: st.DataObject, grace: timedelta
) -> None:
    events = session(data)
    whole = MatchExecutions(CODEC, grace=grace)
    expected = derived(run(whole, events) + flush(whole))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(events) - 1)))))
    restarts = data.draw(st.lists(st.booleans(), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    stage, log, outputs = MatchExecutions(CODEC, grace=grace), [], []
    for (start, end), restart in zip(
        zip([0, *cuts], [*cuts, len(events)], strict=True), restarts, strict=True
    ):
        out = run(stage, events[start:end], start)
        outputs += out
        log += [o for o in out if o.topic == BOOKS_TOPIC]
        if restart:
            stage = MatchExecutions(CODEC, grace=grace)
            kept = compacted(log).items()
            stage.restore(0, [Record(BOOKS_TOPIC, 0, n, k, v) for n, (k, v) in enumerate(kept)])
    assert derived(outputs + flush(stage)) == expected


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_restored_stage_holds_the_journal_the_running_one_holds(data: st.DataObject) -> None:
    events = session(data)
    stage = MatchExecutions(CODEC)
    log = [o for o in run(stage, events) if o.topic == BOOKS_TOPIC]
    restored = MatchExecutions(CODEC)
    restored.restore(
        0, [Record(BOOKS_TOPIC, 0, n, k, v) for n, (k, v) in enumerate(compacted(log).items())]
    )
    assert restored.journals == stage.journals
    assert restored.books == stage.books
