"""Corrections and busts re-derive a position's trades: what they publish is what matching the
corrected executions from scratch gives, with each trade's revisions chained."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import CodecError, InvalidEventError
from domain.contracts import spec_for
from domain.corrections import (
    Correction,
    Entry,
    Journal,
    amended,
    correct,
    economic,
    entry_from_json,
    entry_to_json,
    journaled,
    prune,
    rederive,
)
from domain.matching import Book, Matching, apply
from schemas.codec import default_codec
from schemas.events import (
    EventId,
    ExecutionBusted,
    ExecutionReported,
    Side,
    TradeClosed,
    TradeId,
)
from tests.fixtures import stubs
from tests.fixtures.corrections import busted, corrected
from tests.fixtures.stubs import BASE_TIME, buy, sell

NQ = spec_for("NQ 12-26")
CODEC = default_codec()


def encode(execution: ExecutionReported) -> str:
    return CODEC.encode(execution).hex()


def decode(text: str) -> ExecutionReported:
    execution = CODEC.decode(bytes.fromhex(text))
    assert isinstance(execution, ExecutionReported)
    return execution


class Position:
    """One position as the matching stage keeps it: book, journal, every trade event published."""

    def __init__(self, matching: Matching = Matching.FIFO) -> None:
        self.matching = matching
        self.book = Book()
        self.journal = Journal()
        self.published: list[TradeClosed] = []

    def apply(self, execution: ExecutionReported) -> None:
        self.book, trades, entry = journaled(self.book, execution, NQ, self.matching)
        self.journal = replace(self.journal, entries=(*self.journal.entries, entry))
        self.published += trades

    def correct(self, correction: Correction) -> bool:
        done = correct(self.journal, self.book, correction, self.matching)
        self.journal, self.book = done.journal, done.book
        self.published += done.trades
        return done.changed

    def standing(self) -> dict[TradeId, TradeClosed]:
        """Each trade's last revision, unless voided."""
        last: dict[TradeId, TradeClosed] = {}
        for trade in self.published:
            last[trade.trade_id] = trade
        return {tid: t for tid, t in last.items() if not t.voided}


def from_scratch(
    executions: list[ExecutionReported], matching: Matching = Matching.FIFO
) -> tuple[Book, list[TradeClosed]]:
    book, trades = Book(), []
    for execution in executions:
        book, closed = apply(book, execution, NQ, matching)
        trades += closed
    return book, trades


def content(trade: TradeClosed) -> TradeClosed:
    """The trade without its event and lineage."""
    return replace(
        trade,
        envelope=replace(trade.envelope, event_id=EventId(""), ts_ingested=BASE_TIME,
                         causation_ids=()),
        revision=0, supersedes=None, correction_id=None, voided=False,
    )  # fmt: skip


# --- examples ---------------------------------------------------------------------------------


def test_a_price_amendment_publishes_the_next_revision_with_lineage() -> None:
    entry, exit_ = buy(price="21000"), sell(price="21010")
    position = Position()
    position.apply(entry)
    position.apply(exit_)
    (original,) = position.published
    fix = corrected(exit_, price=Decimal("21005"))
    assert position.correct(fix)
    revision = position.published[-1]
    assert revision.trade_id == original.trade_id
    assert (revision.revision, revision.supersedes, revision.correction_id, revision.voided) == (
        1,
        original.envelope.event_id,
        fix.envelope.event_id,
        False,
    )
    assert revision.exit_price == Decimal("21005") and revision.gross_pnl == Decimal(100)
    assert revision.envelope.event_id not in (original.envelope.event_id, fix.envelope.event_id)
    assert fix.envelope.event_id in revision.envelope.causation_ids
    assert position.book.realized == revision.net_pnl
    # the same correction again changes nothing
    assert not position.correct(replace(fix, envelope=stubs.envelope()))
    assert len(position.published) == 2


def test_a_bust_voids_the_trade_and_leaves_the_lot_open() -> None:
    entry, exit_ = buy(price="21000"), sell(price="21010")
    position = Position()
    position.apply(entry)
    position.apply(exit_)
    (original,) = position.published
    bust = busted(exit_)
    assert position.correct(bust)
    void = position.published[-1]
    assert void.voided and void.revision == 1 and void.supersedes == original.envelope.event_id
    assert content(void) == content(original)  # a copy of the last revision
    assert position.book.position == 1 and position.book.sequence == 3
    assert not position.correct(busted(exit_))  # a second bust is a no-op
    assert len(position.published) == 2


def test_a_side_correction_rematches_the_rest_of_the_journal() -> None:
    first, second, third = buy(price="21000"), sell(price="21004"), buy(price="21002")
    position = Position()
    for execution in (first, second, third):
        position.apply(execution)
    (trade,) = position.published
    # the sell was a buy: no trade then; the third no longer opens a lot of its own either
    assert position.correct(corrected(second, side=Side.BUY))
    assert position.published[-1].voided and position.published[-1].trade_id == trade.trade_id
    assert position.standing() == {}
    assert position.book.position == 3
    # and back: the trade comes back as the next revision, not voided
    assert position.correct(corrected(second, side=Side.SELL))
    assert position.published[-1].revision == 2 and not position.published[-1].voided
    assert content(position.published[-1]) == content(trade)


def test_a_quantity_correction_pairs_other_lots() -> None:
    a, b, c = buy(price="21000"), buy(price="21001"), sell(price="21005")
    position = Position()
    for execution in (a, b, c):
        position.apply(execution)
    (first,) = position.published
    assert position.correct(corrected(c, quantity=2))
    ids = [t.trade_id for t in position.published[1:]]
    assert ids[0] == first.trade_id and position.published[1].revision == 1  # quantity 1 → same
    new = position.published[2]
    assert (new.revision, new.supersedes, new.entry_price) == (0, None, Decimal("21001"))
    assert new.correction_id is not None and position.book.is_flat


def test_an_open_lot_correction_changes_the_position_and_no_trade() -> None:
    position = Position()
    entry = buy(price="21000")
    position.apply(entry)
    assert position.correct(corrected(entry, price=Decimal("20999"), commission=Decimal("1")))
    assert position.published == []
    assert position.book.lots[0].price == Decimal("20999")
    assert position.book.lots[0].commission == Decimal("1")


def test_event_ids_are_derived_from_trade_revision_and_correction() -> None:
    def run() -> list[str]:
        position = Position()
        entry, exit_ = (
            buy(execution_id="e1", event_id=EventId("v1")),
            sell(execution_id="e2", event_id=EventId("v2"), price="21004"),
        )
        position.apply(entry)
        position.apply(exit_)
        fix = replace(corrected(exit_, price=Decimal(21003)), envelope=stubs.envelope(
            event_id=EventId("fix-1")))  # fmt: skip
        position.correct(fix)
        return [t.envelope.event_id for t in position.published]

    assert run() == run()


def test_a_corrected_execution_that_cannot_match_is_refused() -> None:
    position = Position()
    entry = buy()
    position.apply(entry)
    with pytest.raises(InvalidEventError, match="quantity"):
        correct(position.journal, position.book, corrected(entry, quantity=0))


def test_pruning_folds_old_executions_into_the_checkpoint() -> None:
    position = Position()
    executions = [buy(price="21000"), buy(price="21002"), sell(2, price="21006"), buy()]
    for execution in executions:
        position.apply(execution)
    cutoff = executions[2].envelope.ts_event
    journal, gone = prune(position.journal, cutoff)
    assert [e.execution for e in gone] == executions[:2]
    assert journal.find(executions[0].execution_id) is None
    assert journal.checkpoint.position == 2  # the two buys, as they stood
    book, _ = rederive(journal)
    assert book.lots == position.book.lots
    # the sell can still be corrected, against the lots in the checkpoint
    done = correct(journal, position.book, corrected(executions[2], price=Decimal("21008")))
    assert [t.gross_pnl for t in done.trades] == [Decimal(160), Decimal(120)]


# --- properties -------------------------------------------------------------------------------


def session(data: st.DataObject) -> list[ExecutionReported]:
    sides = data.draw(st.lists(st.sampled_from([buy, sell]), min_size=1, max_size=10))
    return [
        side(
            price=str(21000 + data.draw(st.integers(-8, 8))),
            quantity=data.draw(st.integers(1, 3)),
            commission=Decimal("2.09"),
        )
        for side in sides
    ]


def amendment(data: st.DataObject, target: ExecutionReported) -> Correction:
    if data.draw(st.booleans()):
        return busted(target)
    return corrected(
        target,
        side=data.draw(st.sampled_from([Side.BUY, Side.SELL])),
        quantity=data.draw(st.integers(1, 3)),
        price=Decimal(21000 + data.draw(st.integers(-8, 8))),
        commission=data.draw(st.sampled_from([Decimal("2.09"), Decimal("1.5"), Decimal(0)])),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), matching=st.sampled_from(list(Matching)))
def test_corrections_give_what_matching_the_corrected_executions_gives(
    data: st.DataObject, matching: Matching
) -> None:
    executions = session(data)
    position = Position(matching)
    for execution in executions:
        position.apply(execution)
    reference: list[ExecutionReported | None] = list(executions)
    for _ in range(data.draw(st.integers(1, 3))):
        n = data.draw(st.integers(0, len(executions) - 1))
        standing = reference[n]
        if standing is None:
            continue
        change = amendment(data, executions[n])
        before = len(position.published)
        position.correct(change)
        for trade in position.published[before:]:
            assert trade.correction_id == change.envelope.event_id
        if isinstance(change, ExecutionBusted):
            reference[n] = None
        else:
            reference[n] = amended(standing, change)
    book, trades = from_scratch([e for e in reference if e is not None], matching)
    assert sorted(map(content, position.standing().values()), key=_order) == sorted(
        map(content, trades), key=_order
    )
    assert (position.book.lots, position.book.round_trip, position.book.realized) == (
        book.lots,
        book.round_trip,
        book.realized,
    )
    # every revision names the one it replaces, numbers run 0, 1, 2, … per trade
    chains: dict[TradeId, list[TradeClosed]] = {}
    for trade in position.published:
        chains.setdefault(trade.trade_id, []).append(trade)
    for chain in chains.values():
        assert [t.revision for t in chain] == list(range(len(chain)))
        for older, newer in zip(chain, chain[1:], strict=False):
            assert newer.supersedes == older.envelope.event_id
    assert len({t.envelope.event_id for t in position.published}) == len(position.published)


def _order(trade: TradeClosed) -> str:
    return trade.trade_id


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_pruning_never_changes_the_book_nor_later_corrections(data: st.DataObject) -> None:
    executions = session(data)
    position = Position()
    for execution in executions:
        position.apply(execution)
    cut = data.draw(st.integers(0, len(executions)))
    if cut < len(executions):
        before = executions[cut].envelope.ts_event
    else:
        before = executions[-1].envelope.ts_event + timedelta(seconds=1)
    journal, gone = prune(position.journal, before)
    assert len(gone) == cut and len(journal.entries) == len(executions) - cut
    assert rederive(journal)[0].lots == position.book.lots
    if cut < len(executions):
        change = amendment(data, executions[-1])
        whole = correct(position.journal, position.book, change)
        pruned = correct(journal, position.book, change)
        assert pruned.trades == whole.trades and pruned.book == whole.book


@settings(max_examples=100)
@given(
    data=st.data(),
    stop=st.none() | st.decimals(-100000, 100000, places=2),
    busted_=st.booleans(),
)
def test_a_journal_entry_round_trips_through_json(
    data: st.DataObject, stop: Decimal | None, busted_: bool
) -> None:
    execution = buy(
        order_id=data.draw(st.none() | st.text(max_size=5)),
        order_name=data.draw(st.none() | st.text(max_size=5)),
        strategy=data.draw(st.none() | st.text(max_size=5)),
        variant=data.draw(st.none() | st.text(max_size=5)),
        signal_id=data.draw(st.none() | st.text(max_size=5)),
        trade_id=data.draw(st.none() | st.text(max_size=5)),
        order_number=data.draw(st.none() | st.text(max_size=5)),
        causation_ids=tuple(data.draw(st.lists(st.text(max_size=4), max_size=2))),
    )
    _, _, first = journaled(Book(), execution, NQ)
    position = Position()
    position.apply(execution)
    position.apply(sell())
    entry = replace(position.journal.entries[-1], stop=stop, busted=busted_)
    for item in (first, entry):
        assert entry_from_json(entry_to_json(item, encode), decode) == item


def test_a_stored_entry_that_is_not_one_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="journal entry"):
        entry_from_json({"v": 1, "seq": 1}, decode)


def test_the_economic_content_leaves_out_market_context_event_and_lineage() -> None:
    _, (trade,) = from_scratch([buy(), sell(price="21003")])
    other = replace(trade, mae=Decimal(1), mfe=Decimal(2), revision=4, voided=True,
                    envelope=replace(trade.envelope, event_id=EventId("x")))  # fmt: skip
    assert economic(trade) == economic(other)
    assert economic(trade) != economic(replace(trade, net_pnl=Decimal(0)))


def test_an_entry_keeps_its_contract_specification() -> None:
    entry: Entry = journaled(Book(), buy(instrument="ES 12-26"), spec_for("ES 12-26"))[2]
    assert entry_from_json(entry_to_json(entry, encode), decode).spec == spec_for("ES 12-26")
