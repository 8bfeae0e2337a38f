"""The reconciliation stages, record in and records out: what the feed copies, accounts compared
only once NinjaTrader reports them, a side lagging behind holding the event time back, the clock
settling a partition read to its end, and a restart from the changelog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.catalog import DERIVED_POSITIONS, DERIVED_RECONCILIATION, RAW_POSITIONS
from schemas.codec import default_codec
from schemas.events import (
    Envelope,
    EventId,
    ExecutionId,
    MarketPosition,
    PositionChanged,
    PositionDrift,
    PositionUpdated,
    Source,
)
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.reconciliation import (
    FEED_TOPIC,
    CopyDerived,
    CopyReported,
    ReconcilePositions,
)

CODEC = default_codec()
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
GRACE = timedelta(seconds=5)
CHANGELOG = "streams-reconciliation-changelog"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reported(
    quantity: int, seconds: float, account: str = "Sim101", strategy: str | None = None
) -> PositionUpdated:
    side = MarketPosition.LONG if quantity > 0 else MarketPosition.SHORT
    return PositionUpdated(
        envelope=Envelope(
            event_id=EventId(f"r-{account}-{seconds}"),
            ts_event=at(seconds),
            ts_ingested=at(seconds),
            producer="t",
        ),
        account=account,
        instrument="NQ 12-26",
        market_position=side if quantity else MarketPosition.FLAT,
        quantity=abs(quantity),
        average_price=Decimal(21000),
        strategy=strategy,
    )


def changed(
    quantity: int,
    seconds: float,
    sequence: int,
    account: str = "Sim101",
    source: Source = Source.LIVE,
) -> PositionChanged:
    return PositionChanged(
        envelope=Envelope(
            event_id=EventId(f"c-{account}-{sequence}"),
            ts_event=at(seconds),
            ts_ingested=at(seconds),
            source=source,
            producer="t",
        ),
        account=account,
        instrument="NQ 12-26",
        sequence=sequence,
        execution_id=ExecutionId(f"x{sequence}"),
        quantity=quantity,
        point_value=Decimal(20),
        currency="USD",
        open_costs=Decimal(0),
        realized_pnl=Decimal(0),
    )


class Feed:
    """The reconciliation stage over one feed partition, its records numbered in order."""

    def __init__(self, clock: datetime = T0) -> None:
        self.now = clock
        self.stage = ReconcilePositions(CODEC, GRACE, clock=lambda: self.now)
        self.offset = 0
        self.changelog: list[Output] = []

    def send(self, *events: PositionUpdated | PositionChanged) -> list[PositionDrift]:
        records = []
        for event in events:
            records.append(Record(FEED_TOPIC, 0, self.offset, b"Sim101", CODEC.encode(event)))
            self.offset += 1
        batch = Batch()
        self.stage.process(records, batch)
        return self._drifts(batch)

    def tick(self, clock: datetime, caught_up: bool = True) -> list[PositionDrift]:
        self.now = clock
        batch = Batch()
        self.stage.tick(batch, frozenset({0}) if caught_up else frozenset())
        return self._drifts(batch)

    def _drifts(self, batch: Batch) -> list[PositionDrift]:
        self.changelog += [o for o in batch.outputs if o.topic == CHANGELOG]
        drifts = []
        for out in batch.outputs:
            if out.topic == DERIVED_RECONCILIATION:
                drift = CODEC.decode(out.value or b"")
                assert isinstance(drift, PositionDrift)
                assert out.key == f"{drift.account}|{drift.instrument}".encode()
                drifts.append(drift)
        return drifts


def _shown(drifts: Sequence[PositionDrift]) -> list[tuple[int, int, bool]]:
    return [(d.reported, d.derived, d.resolved) for d in drifts]


def test_the_feed_copies_account_positions_and_live_derived_ones_keyed_by_account() -> None:
    def copied(
        stage: CopyReported | CopyDerived, topic: str, *events: PositionUpdated | PositionChanged
    ) -> list[bytes]:
        records = [Record(topic, 0, n, b"k", CODEC.encode(e)) for n, e in enumerate(events)]
        batch = Batch()
        stage.process(records, batch)
        assert all(o.topic == FEED_TOPIC for o in batch.outputs)
        return [o.key for o in batch.outputs]

    assert copied(
        CopyReported(CODEC), RAW_POSITIONS, reported(1, 0), reported(1, 1, strategy="S")
    ) == [b"Sim101"]
    assert copied(
        CopyDerived(CODEC),
        DERIVED_POSITIONS,
        changed(1, 0, 1),
        changed(1, 0, 2, account="PAPER:Sim101", source=Source.PAPER),
    ) == [b"Sim101"]


def test_an_account_is_compared_once_ninjatrader_reports_it() -> None:
    feed = Feed()
    assert feed.send(changed(2, 0, 1)) == []
    assert feed.tick(at(60)) == []  # an imported account: nothing to compare with
    drifts = feed.send(reported(0, 61))  # now reported (flat): the derived 2 long is a drift
    assert drifts == []
    assert _shown(feed.tick(at(61) + GRACE)) == [(0, 2, False)]


def test_the_lagging_side_holds_the_event_time_back() -> None:
    feed = Feed()
    feed.send(changed(0, 0, 1), reported(0, 0))
    assert feed.send(reported(1, 10), reported(1, 20), reported(1, 30)) == []  # derived at 0
    drifts = feed.send(changed(0, 30, 2))
    assert _shown(drifts) == [(1, 0, False)]
    assert drifts[0].since == at(10) and drifts[0].envelope.ts_event == at(15)
    # an agreement settles the same way, and only then resolves
    assert feed.send(changed(1, 40, 3)) == []
    assert feed.send(reported(1, 44), changed(1, 44, 4)) == []
    assert _shown(feed.send(reported(1, 45), changed(1, 45, 5))) == [(1, 1, True)]


def test_the_clock_settles_a_partition_read_to_its_end() -> None:
    feed = Feed()
    feed.send(reported(2, 0), changed(2, 0, 1))
    feed.send(reported(3, 10))
    assert feed.tick(at(14)) == []
    assert feed.tick(at(20), caught_up=False) == []  # not read to its end: wait
    assert _shown(feed.tick(at(20))) == [(3, 2, False)]
    assert feed.tick(at(30)) == []  # published once
    feed.send(changed(3, 31, 2))
    assert _shown(feed.tick(at(36))) == [(3, 3, True)]


def test_a_restart_reads_its_state_back_and_publishes_nothing_twice() -> None:
    feed = Feed()
    feed.send(reported(2, 0), changed(1, 0, 1))
    assert _shown(feed.tick(at(5))) == [(2, 1, False)]
    records = [Record(CHANGELOG, 0, n, o.key, o.value or b"") for n, o in enumerate(feed.changelog)]
    again = Feed()
    again.stage.restore(0, records)
    assert again.stage.pairs == feed.stage.pairs
    assert again.stage.watermarks == feed.stage.watermarks
    assert again.tick(at(60)) == []
    again.send(changed(2, 61, 2))
    assert _shown(again.tick(at(66))) == [(2, 2, True)]


def test_a_record_that_is_not_a_position_goes_to_the_dead_letters() -> None:
    feed = Feed()
    batch = Batch()
    feed.stage.process([Record(FEED_TOPIC, 0, 0, b"k", b"not avro")], batch)
    assert [o.topic for o in batch.outputs] == ["dead-letter"]
