"""Imported trades, record in and records out: a Trades export's row becomes a TradeClosed with
source import and NinjaTrader's own figures; the same row again publishes nothing; a trade
derived from executions covers the imported one (voided, ``covered_by``) whichever comes first,
and a correction that voids or moves it uncovers it; differences are reported; a restart from
the changelog continues as if nothing happened; and, for any order of arrival, the imported
trades that count are those no derived trade covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.imported import IMPORTED_PREFIX, fingerprint_of, imported_trade
from schemas.catalog import DERIVED_TRADES, RAW_NT_TRADES
from schemas.codec import default_codec
from schemas.events import (
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    InstrumentDefined,
    Source,
    TradeClosed,
    TradeId,
    TradeReported,
)
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.imported import (
    FEED_TOPIC,
    CopyDerived,
    CopyInstruments,
    CopyReported,
    PublishImported,
)

CODEC = default_codec()
T0 = datetime(2026, 4, 7, 14, 30, 5, tzinfo=UTC)
CHANGELOG = "streams-imported-changelog"


def reported(
    n: int = 1, *, profit: str = "250", minutes: int = 0, **overrides: object
) -> TradeReported:
    entry = T0 + timedelta(minutes=minutes)
    fields: dict[str, object] = {
        "envelope": Envelope(event_id=EventId(f"nt-row{n}"), ts_event=entry + timedelta(minutes=3),
                             ts_ingested=T0, source=Source.IMPORT, producer="import"),
        "trade_number": n,
        "account": "Sim101",
        "instrument": "NQ 06-26",
        "strategy": "ORB",
        "direction": Direction.LONG,
        "quantity": 1,
        "entry_price": Decimal("21000.25"),
        "exit_price": Decimal("21012.75"),
        "entry_time": entry,
        "exit_time": entry + timedelta(minutes=3),
        "entry_name": "Long",
        "exit_name": "Target",
        "profit": Decimal(profit),
        "commission": Decimal("2.10"),
        "fees": Decimal("0.40"),
        "mae": Decimal("50"),
        "mfe": Decimal("300"),
        "etd": Decimal(300) - Decimal(profit),
        "bars": 3,
        "currency": "USD",
    }  # fmt: skip
    fields.update(overrides)
    return TradeReported(**fields)  # type: ignore[arg-type]


def derived(trade_id: str = "t-1", *, minutes: int = 0, net: str = "250", revision: int = 0,
            voided: bool = False, microseconds: int = 250_000) -> TradeClosed:  # fmt: skip
    entry = T0 + timedelta(minutes=minutes, microseconds=microseconds)
    return TradeClosed(
        envelope=Envelope(event_id=EventId(f"{trade_id}@{revision}"), ts_event=entry,
                          ts_ingested=entry, source=Source.LIVE, producer="matching"),
        trade_id=TradeId(trade_id), account="Sim101", instrument="NQ 06-26", strategy="ORB",
        direction=Direction.LONG, quantity=1, entry_time=entry,
        exit_time=entry + timedelta(minutes=3), entry_price=Decimal("21000.25"),
        exit_price=Decimal("21012.75"), point_value=Decimal(20), currency="USD",
        gross_pnl=Decimal(net), commission=Decimal(0), net_pnl=Decimal(net),
        execution_ids=(ExecutionId("x-1"), ExecutionId("x-2")), revision=revision,
        voided=voided,
    )  # fmt: skip


class Feed:
    """The third stage fed record by record, its changelog kept as Kafka would."""

    def __init__(self) -> None:
        self.stage = PublishImported(CODEC)
        self.offset = 0
        self.changelog: list[Record] = []

    def send(self, *events: TradeReported | TradeClosed | InstrumentDefined) -> list[TradeClosed]:
        records = []
        for event in events:
            self.offset += 1
            key = event.root if isinstance(event, InstrumentDefined) else event.account
            records.append(Record(FEED_TOPIC, 0, self.offset, key.encode(), CODEC.encode(event)))
        batch = Batch()
        self.stage.process(records, batch)
        for output in batch.outputs:
            if output.topic == CHANGELOG:
                self.changelog.append(Record(CHANGELOG, 0, len(self.changelog), output.key,
                                             output.value or b""))  # fmt: skip
        return trades_in(batch.outputs)

    def restarted(self) -> Feed:
        again = Feed()
        again.offset = self.offset
        again.changelog = list(self.changelog)
        latest: dict[bytes | None, Record] = {r.key: r for r in self.changelog}
        again.stage.restore(0, list(latest.values()))
        return again


def trades_in(outputs: Sequence[Output]) -> list[TradeClosed]:
    found = []
    for output in outputs:
        if output.topic == DERIVED_TRADES:
            event = CODEC.decode(output.value or b"")
            assert isinstance(event, TradeClosed)
            assert output.key == f"{event.account}|{event.instrument}".encode()
            found.append(event)
    return found


def test_a_reported_trade_becomes_an_imported_trade_closed_with_ninjatraders_figures() -> None:
    (trade,) = Feed().send(reported(profit="247.50"))
    assert trade.trade_id == IMPORTED_PREFIX + "row1"
    assert trade.envelope.source is Source.IMPORT
    assert trade.envelope.causation_ids == ("nt-row1",)
    assert (trade.net_pnl, trade.gross_pnl) == (Decimal("247.50"), Decimal("250.00"))
    assert (trade.commission, trade.fees) == (Decimal("2.10"), Decimal("0.40"))
    assert (trade.mae, trade.mfe, trade.etd) == (Decimal(50), Decimal(300), Decimal("52.50"))
    assert trade.point_value == Decimal(20)  # NQ, from the built-in contract table
    assert trade.duration_micros == 180_000_000
    assert (trade.revision, trade.voided, trade.covered_by) == (0, False, None)
    assert CODEC.decode(CODEC.encode(trade)) == trade


def test_the_same_export_again_publishes_nothing() -> None:
    feed = Feed()
    assert len(feed.send(reported(1), reported(2, minutes=10))) == 2
    assert feed.send(reported(1), reported(2, minutes=10)) == []
    assert feed.restarted().send(reported(2, minutes=10)) == []


def test_a_derived_trade_covers_the_imported_one_whichever_comes_first() -> None:
    feed = Feed()
    (first,) = feed.send(reported(1))
    (covered,) = feed.send(derived("t-1"))
    assert (covered.trade_id, covered.revision, covered.voided) == (first.trade_id, 1, True)
    assert covered.covered_by == "t-1" and covered.supersedes == first.envelope.event_id
    assert feed.send(derived("t-1")) == []  # a redelivery changes nothing

    other = Feed()
    assert other.send(derived("t-1")) == []  # derived trades are not published again
    (late,) = other.send(reported(1))
    assert (late.revision, late.voided, late.covered_by) == (0, True, "t-1")


def test_a_correction_voiding_or_moving_the_derived_trade_uncovers_the_imported_one() -> None:
    feed = Feed()
    feed.send(reported(1), derived("t-1"))
    (uncovered,) = feed.send(derived("t-1", revision=1, voided=True))
    assert (uncovered.revision, uncovered.voided, uncovered.covered_by) == (2, False, None)
    (covered,) = feed.restarted().send(derived("t-1", revision=2))
    assert (covered.revision, covered.voided) == (3, True)

    moved = Feed()
    moved.send(reported(1), derived("t-1"))
    (freed,) = moved.send(derived("t-1", minutes=1, revision=1))  # its times corrected
    assert (freed.revision, freed.voided) == (2, False)


def test_a_covered_trade_that_differs_is_reported() -> None:
    before = metrics.IMPORTED_DIFFERENCES.labels("net_pnl")._value.get()
    feed = Feed()
    feed.send(reported(1, profit="250"), derived("t-1", net="245.80"))
    assert metrics.IMPORTED_DIFFERENCES.labels("net_pnl")._value.get() == before + 1
    feed.send(derived("t-1", net="245.80"))  # the same pair again: reported once
    assert metrics.IMPORTED_DIFFERENCES.labels("net_pnl")._value.get() == before + 1


def test_times_match_to_the_second_and_other_accounts_never() -> None:
    feed = Feed()
    feed.send(reported(1))
    assert feed.send(derived("t-1", microseconds=999_000))[0].voided  # same second
    other = Feed()
    other.send(reported(1, account="Sim102"))
    assert other.send(derived("t-1")) == []


def test_a_trade_of_a_root_not_known_yet_waits_for_its_definition() -> None:
    feed = Feed()
    row = reported(instrument="ZZ 06-26")
    assert feed.send(row) == []  # waiting, also across a restart
    definition = InstrumentDefined(
        envelope=Envelope(event_id=EventId("def-zz"), ts_event=T0, ts_ingested=T0,
                          producer="cli"),
        root="ZZ", name="Zed", tick_size=Decimal("0.5"), point_value=Decimal(5), currency="USD",
    )  # fmt: skip
    (trade,) = feed.restarted().send(definition)
    assert (trade.instrument, trade.point_value) == ("ZZ 06-26", Decimal(5))
    again = feed.restarted()
    again.send(definition)
    assert again.send(reported(2, instrument="ZZ 06-26", minutes=5))[0].point_value == 5


def test_the_copy_stages_key_by_account_and_pass_over_imported_and_paper_trades() -> None:
    batch = Batch()
    row = reported(1)
    CopyReported(CODEC).process([Record(RAW_NT_TRADES, 0, 1, b"x", CODEC.encode(row))], batch)
    assert [(o.topic, o.key) for o in batch.outputs] == [(FEED_TOPIC, b"Sim101")]
    imported = imported_trade(row, Decimal(20))
    paper = replace(derived("p-1"), account="PAPER:Sim101")
    live = derived("t-1")
    batch = Batch()
    records = [Record(DERIVED_TRADES, 0, n, b"k", CODEC.encode(e))
               for n, e in enumerate((imported, paper, live))]  # fmt: skip
    CopyDerived(CODEC).process(records, batch)
    assert [(o.topic, o.key, o.value) for o in batch.outputs] == [
        (FEED_TOPIC, b"Sim101", CODEC.encode(live))]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.integers(0, 3), min_size=1, max_size=6),
    trades=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=6),
    seed=st.randoms(use_true_random=False),
    restart_at=st.integers(0, 12),
)
def test_the_imported_trades_that_count_are_those_no_derived_trade_covers(
    rows: list[int], trades: list[tuple[int, bool]], seed: object, restart_at: int
) -> None:
    """Rows and derived trades at a few times (several of a kind allowed), some derived ones
    voided by a later correction, in any order, with a restart anywhere: per fingerprint, the
    imported trades counting are as many as it has rows beyond its derived trades."""
    events: list[TradeReported | TradeClosed] = [
        reported(n, minutes=10 * m) for n, m in enumerate(rows)
    ]
    for n, (m, voided) in enumerate(trades):
        events.append(derived(f"t-{n}", minutes=10 * m))
        if voided:
            events.append(derived(f"t-{n}", minutes=10 * m, revision=1, voided=True))
    order = list(events)
    seed.shuffle(order)  # type: ignore[attr-defined]
    # a derived trade's revisions keep their order (one partition of derived.trades)
    revisions = iter(sorted((e for e in order if isinstance(e, TradeClosed)),
                            key=lambda e: (e.trade_id, e.revision)))  # fmt: skip
    by_id: dict[str, list[TradeClosed]] = {}
    for e in revisions:
        by_id.setdefault(e.trade_id, []).append(e)
    taken = {k: iter(v) for k, v in by_id.items()}
    order = [next(taken[e.trade_id]) if isinstance(e, TradeClosed) else e for e in order]

    feed = Feed()
    latest: dict[str, TradeClosed] = {}
    for n, event in enumerate(order):
        if n == restart_at:
            feed = feed.restarted()
        for published in feed.send(event):
            known = latest.get(published.trade_id)
            assert known is None or published.revision > known.revision
            latest[published.trade_id] = published
    counting: dict[str, int] = {}
    for t in latest.values():
        if not t.voided:
            counting[fingerprint_of(t)] = counting.get(fingerprint_of(t), 0) + 1
    expected: dict[str, int] = {}
    for m in set(rows):
        key = fingerprint_of(imported_trade(reported(0, minutes=10 * m), Decimal(20)))
        live = sum(1 for mm, voided in trades if mm == m and not voided)
        if rows.count(m) > live:
            expected[key] = rows.count(m) - live
    assert counting == expected
    assert len(latest) == len(rows)  # every row published, once as a trade


def test_definitions_are_copied_to_every_partition_of_the_feed() -> None:
    definition = InstrumentDefined(
        envelope=Envelope(event_id=EventId("def-zz"), ts_event=T0, ts_ingested=T0,
                          producer="cli"),
        root="ZZ", name="Zed", tick_size=Decimal("0.5"), point_value=Decimal(5), currency="USD",
    )  # fmt: skip
    batch = Batch()
    record = Record("raw.instruments", 0, 1, b"ZZ", CODEC.encode(definition))
    CopyInstruments(CODEC, partitions=3).process([record], batch)
    assert [(o.topic, o.partition, o.value) for o in batch.outputs] == [
        (FEED_TOPIC, p, record.value) for p in range(3)]  # fmt: skip
