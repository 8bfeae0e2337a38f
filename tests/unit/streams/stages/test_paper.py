"""The paper stages, record in and records out: what the feed copies, the executions a signal
makes whatever the order its bars and it arrive in, a restart from the changelog, signals too
late, matching the paper executions into the paper trade's own result, and roots known only by
their definition in the log."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from domain.contracts import defined_spec, spec_for
from domain.matching import Book, apply
from domain.paper import FillModel, simulate
from schemas.codec import default_codec
from schemas.events import (
    BarClosed,
    Direction,
    Envelope,
    EventId,
    ExecutionReported,
    InstrumentDefined,
    SignalEmitted,
    SignalId,
    Source,
)
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.paper import (
    FEED_TOPIC,
    PaperBars,
    PaperInstruments,
    PaperSignals,
    PaperTrades,
)
from tests.fixtures import stubs

CODEC = default_codec()
MODEL = FillModel(slippage_ticks=1, commission_per_contract=Decimal("2.09"))
NQ = spec_for("NQ 12-26")
T0 = stubs.BASE_TIME
CHANGELOG = "streams-paper-changelog"


def signal(
    n: int, minute: int, direction: str = "long", target: str | None = None
) -> SignalEmitted:
    at = T0 + timedelta(minutes=minute, seconds=15)
    long = direction == "long"
    return SignalEmitted(
        envelope=Envelope(event_id=EventId(f"s{n}"), ts_event=at, ts_ingested=at, producer="t"),
        signal_id=SignalId(f"sig-{n}"), account="Sim101", instrument="NQ 12-26",
        strategy="Breakout", variant="v2", direction=Direction(direction),
        intended_stop=Decimal("20996") if long else Decimal("21004"),
        intended_target=Decimal(target) if target else (
            Decimal("21004") if long else Decimal("20996")),
    )  # fmt: skip


def bars(count: int, seed: int = 1) -> list[BarClosed]:
    rng = random.Random(seed)
    close, made = Decimal(21000), []
    for i in range(1, count + 1):
        open_ = close
        close = open_ + Decimal(rng.randint(-6, 6)) / 4
        high = max(open_, close) + Decimal(rng.randint(0, 4)) / 4
        low = min(open_, close) - Decimal(rng.randint(0, 4)) / 4
        built = stubs.bar(T0 + timedelta(minutes=i), str(high), str(low))
        made.append(replace(built, open=open_, close=close))
    return made


def feed(events: Sequence[SignalEmitted | BarClosed | InstrumentDefined]) -> list[Record]:
    return [
        Record(FEED_TOPIC, 0, i, (e.instrument or "").encode(), CODEC.encode(e))
        for i, e in enumerate(events)
    ]


def run(stage: PaperTrades, records: list[Record]) -> list[Output]:
    batch = Batch()
    stage.process(records, batch)
    return batch.outputs


def executions(outputs: list[Output]) -> list[ExecutionReported]:
    found = [CODEC.decode(o.value or b"") for o in outputs if o.topic == "raw.executions"]
    return [e for e in found if isinstance(e, ExecutionReported)]


def stage() -> PaperTrades:
    return PaperTrades(CODEC, MODEL, timedelta(days=7))


def in_pieces(records: list[Record], size: int) -> tuple[list[ExecutionReported], list[Record]]:
    """``records`` run ``size`` at a time, each piece by a stage restored from the changelog
    the pieces before it wrote: the executions, and that changelog."""
    changelog: list[Record] = []
    pieces: list[ExecutionReported] = []
    for start in range(0, len(records), size):
        restarted = stage()
        restarted.restore(0, changelog)
        outputs = run(restarted, records[start : start + size])
        pieces += executions(outputs)
        changelog += [Record(CHANGELOG, 0, len(changelog) + i, o.key, o.value or b"")
                      for i, o in enumerate(outputs) if o.topic == CHANGELOG]  # fmt: skip
    return pieces, changelog


def test_the_feed_copies_signals_with_a_stop_and_a_target_and_bars_of_the_period() -> None:
    no_target = replace(signal(1, 0), intended_target=None)
    undefined = replace(signal(2, 0), instrument="ZZ 12-26")  # its root may be defined later
    good = signal(3, 0)
    records = [Record("raw.signals", 0, i, b"k", CODEC.encode(s))
               for i, s in enumerate([no_target, undefined, good])]  # fmt: skip
    batch = Batch()
    PaperSignals(CODEC).process(records, batch)
    assert [(o.topic, o.key, o.value) for o in batch.outputs] == [
        (FEED_TOPIC, b"ZZ 12-26", records[1].value),
        (FEED_TOPIC, b"NQ 12-26", records[2].value),
    ]
    five = replace(bars(1)[0], period="5 Minute")
    records = [Record("raw.market", 0, i, b"NQ 12-26", CODEC.encode(b))
               for i, b in enumerate([*bars(2), five])]  # fmt: skip
    batch = Batch()
    PaperBars(CODEC, "1 Minute").process(records, batch)
    assert [o.value for o in batch.outputs] == [r.value for r in records[:2]]


def test_a_signal_makes_the_executions_of_its_paper_trade() -> None:
    made, the_bars = signal(1, 3), bars(60)
    outputs = run(stage(), feed([*the_bars[:3], made, *the_bars[3:]]))
    entry, exit_ = executions(outputs)
    trade = simulate(made, the_bars, NQ, MODEL)
    assert trade is not None and trade.exit is not None
    assert (entry.execution_id, entry.side, entry.price, entry.envelope.ts_event) == (
        "paper-sig-1-in", "buy", trade.entry_price, trade.entry_time
    )  # fmt: skip
    assert (exit_.execution_id, exit_.side, exit_.price, exit_.envelope.ts_event) == (
        "paper-sig-1-out", "sell", trade.exit_price, trade.exit_time
    )  # fmt: skip
    for e in (entry, exit_):
        assert (e.account, e.strategy, e.variant, e.signal_id) == (
            "PAPER:Sim101", "Breakout", "v2", "sig-1"
        )  # fmt: skip
        assert e.envelope.source is Source.PAPER and e.commission == Decimal("2.09")
    # through matching, the paper trade's own result
    book, _ = apply(Book(), entry, NQ)
    _, (closed,) = apply(book, exit_, NQ)
    assert closed.net_pnl == trade.net_pnl and closed.gross_pnl == trade.gross_pnl


def test_whatever_the_order_of_arrival_the_same_executions_come_out() -> None:
    the_bars = bars(80, seed=2)
    signals = [signal(1, 2), signal(2, 10, "short"), signal(3, 30), signal(4, 79)]
    expected = None
    rng = random.Random(5)
    for _ in range(20):
        # bars keep their order; each signal lands anywhere among them
        events: list[SignalEmitted | BarClosed] = list(the_bars)
        for s in signals:
            events.insert(rng.randint(0, len(events)), s)
        got = sorted((e.execution_id, e.price, e.envelope.ts_event) for e in
                     executions(run(stage(), feed(events))))  # fmt: skip
        expected = expected or got
        assert got == expected
    assert expected is not None and len(expected) >= 6


def test_a_restart_from_the_changelog_carries_on_as_one_pass() -> None:
    events: list[SignalEmitted | BarClosed] = list(bars(90, seed=3))
    for n, minute in enumerate((1, 20, 44, 70)):
        events.insert(minute + n, signal(n, minute))
    whole = executions(run(stage(), feed(events)))
    pieces, _ = in_pieces(feed(events), 13)
    assert pieces == whole


def test_a_signal_older_than_the_bars_kept_is_passed_over() -> None:
    short_memory = PaperTrades(CODEC, MODEL, timedelta(minutes=10))
    outputs = run(short_memory, feed([*bars(40), signal(1, 5)]))
    assert executions(outputs) == []
    duplicate = run(stage(), feed([signal(2, 1), signal(2, 1), *bars(30)]))
    assert len({e.execution_id for e in executions(duplicate)}) == len(executions(duplicate))


ZZ = stubs.instrument_defined("ZZ", tick_size="0.5", point_value="25", currency="EUR")


def in_zz(event: SignalEmitted | BarClosed) -> SignalEmitted | BarClosed:
    """``event`` in ZZ 12-26, a root only its definition in the log makes known."""
    return replace(event, instrument="ZZ 12-26")


def test_every_definition_is_copied_to_every_partition_of_the_feed() -> None:
    record = Record("raw.instruments", 1, 7, b"ZZ", CODEC.encode(ZZ))
    batch = Batch()
    PaperInstruments(CODEC, partitions=3).process([record], batch)
    assert [(o.topic, o.key, o.value, o.partition) for o in batch.outputs] == [
        (FEED_TOPIC, b"ZZ", record.value, p) for p in range(3)
    ]
    assert PaperInstruments(CODEC).partitions >= 1  # the catalog's count


def test_a_signal_in_a_defined_root_trades_on_its_definition_whenever_that_arrives() -> None:
    made, the_bars = in_zz(signal(1, 3)), [in_zz(b) for b in bars(60, seed=4)]
    assert isinstance(made, SignalEmitted)
    trade = simulate(made, [b for b in the_bars if isinstance(b, BarClosed)], defined_spec(ZZ),
                     MODEL)  # fmt: skip
    assert trade is not None and trade.exit is not None
    expected = [("paper-sig-1-in", trade.entry_price, trade.entry_time),
                ("paper-sig-1-out", trade.exit_price, trade.exit_time)]  # fmt: skip
    events: list[SignalEmitted | BarClosed | InstrumentDefined] = [*the_bars[:3], made,
                                                                   *the_bars[3:]]  # fmt: skip
    for at in (0, 3, 4, 10, len(events)):  # before the signal, after it, after its exit
        arrived = [*events[:at], ZZ, *events[at:]]
        made_ = executions(run(stage(), feed(arrived)))
        got = [(e.execution_id, e.price, e.envelope.ts_event) for e in made_]
        assert got == expected, at
        # ingested no earlier than the definition: matching values them with it too
        assert all(e.envelope.ts_ingested >= ZZ.envelope.ts_ingested for e in made_)
    # without a definition it waits, and nothing comes out
    waiting = stage()
    assert executions(run(waiting, feed(events))) == []
    assert list(waiting.held[0]["ZZ 12-26"].open) == ["sig-1"]


def test_a_definition_survives_a_restart_from_the_changelog() -> None:
    events: list[SignalEmitted | BarClosed | InstrumentDefined] = [
        ZZ,
        *(in_zz(b) for b in bars(90, seed=6)),
    ]
    for n, minute in enumerate((1, 20, 44, 70)):
        events.insert(minute + n + 1, in_zz(signal(n, minute)))
    whole = executions(run(stage(), feed(events)))
    assert len(whole) >= 6
    pieces, changelog = in_pieces(feed(events), 11)
    assert pieces == whole
    assert b"instrument|ZZ|" + ZZ.envelope.event_id.encode() in {r.key for r in changelog}


def test_a_newer_definition_of_a_builtin_root_is_what_the_paper_trade_is_valued_with() -> None:
    # a tick of a whole point: the slippage, and so the fill prices, differ from the table's
    nq = stubs.instrument_defined("NQ", tick_size="1", point_value="2", currency="USD")
    made, the_bars = signal(1, 3), bars(60, seed=7)
    entry, exit_ = executions(run(stage(), feed([nq, *the_bars[:3], made, *the_bars[3:]])))
    trade = simulate(made, the_bars, defined_spec(nq), MODEL)
    table = simulate(made, the_bars, NQ, MODEL)
    assert trade is not None and table is not None and trade.entry_price != table.entry_price
    assert (entry.price, exit_.price) == (trade.entry_price, trade.exit_price)
    book, _ = apply(Book(), entry, defined_spec(nq))
    _, (closed,) = apply(book, exit_, defined_spec(nq))
    assert closed.net_pnl == trade.net_pnl


def test_a_signal_whose_root_is_never_defined_is_let_go_with_its_bars() -> None:
    short_memory = PaperTrades(CODEC, MODEL, timedelta(minutes=10))
    events = [in_zz(signal(1, 2)), *(in_zz(b) for b in bars(40))]
    outputs = run(short_memory, feed(events))
    assert executions(outputs) == [] and short_memory.held[0]["ZZ 12-26"].open == {}
    tombstones = [o for o in outputs if o.key == b"open|ZZ 12-26|sig-1" and o.value is None]
    assert tombstones, "the signal let go is not removed from the changelog"
