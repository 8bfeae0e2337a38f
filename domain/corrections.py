"""Corrections and busts of executions already matched: a position's journal, re-derived.

A broker's back office may amend an execution (``ExecutionCorrected``: its side, quantity,
price, costs or time) or remove it (``ExecutionBusted``) after matching applied it. Neither
edits the log: each is a compensating event, and matching answers with revised trades.

For that it keeps, per position, a ``Journal``: the book as it stood at the journal's start (the
checkpoint) and every execution applied since, each with the trades it closed as they were last
published (trade id, revision, event id, whether voided). A correction of an execution in the
journal re-applies the checkpoint and the journal with that execution amended (or, for a bust,
without it), so the whole journal after it is matched again (a side or quantity change can pair
other lots), and compares each execution's trades with those it published. What was published
is the journal re-applied as it stood before the correction (it is the fold that published
them), so the comparison is between the two re-derivations, field by field, leaving out the
event, MAE and MFE and the lineage (``economic``):

- the same economic content: nothing;
- changed: the trade's next revision, ``supersedes`` the event id of the last one;
- gone: a copy of the last revision with ``voided`` set (the next revision);
- a trade id never published: revision 0.

Each carries ``correction_id``, the event id of the correction, and an event id derived from the
trade id, the revision and the correction's event id: a replay publishes identical events.

The journal is bounded by event time: ``prune`` folds the executions older than a window into the
checkpoint (matching prunes with the event time of what it applies, never the clock, so a replay
prunes exactly as the live run did); an execution folded in can no longer be corrected.

**Market context.** The initial stop a lot opened with is recorded with its execution and used
again as it was. MAE and MFE are taken again from the market context the caller has at the time
of the correction (``market_for``), as the execution saw it then (matching asks with the
execution's own ingestion time); where the context no longer holds the bars (older than its
retention), a re-derived trade has no MAE and MFE. Since the comparison leaves MAE and MFE out,
forgotten context never revises a trade the correction did not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from core.errors import CodecError
from domain.contracts import ContractSpec
from domain.matching import Book, Market, Matching, apply, position_changed, position_key
from schemas.events import (
    Envelope,
    EventId,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    PositionChanged,
    TradeClosed,
    TradeId,
)

_JSON_VERSION = 1
_NOT_ECONOMIC = frozenset(
    {"envelope", "mae", "mfe", "revision", "supersedes", "correction_id", "voided"}
)
"""What ``economic`` leaves out of a trade: its event, its market context, its lineage."""

Correction = ExecutionCorrected | ExecutionBusted


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    """The last revision published of one trade."""

    trade_id: TradeId
    revision: int
    event_id: EventId
    voided: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One execution applied since the journal's checkpoint, as it now stands."""

    sequence: int
    """The book's ``sequence`` once it applied the execution: orders the journal."""
    execution: ExecutionReported
    """As reported, or as last corrected."""
    spec: ContractSpec
    stop: Decimal | None = None
    """The initial stop matching gave a lot the execution opened (its signal's, when known)."""
    stale: bool = False
    """Matching gave it no market context: a re-derivation gives it none either."""
    busted: bool = False
    """Removed by the broker: re-derivation skips it."""
    trades: tuple[Published, ...] = ()
    """The trades the execution closed, as last published (voided ones too)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Journal:
    """A position's book at the checkpoint and the executions applied since, oldest first."""

    checkpoint: Book = Book()
    entries: tuple[Entry, ...] = ()

    def find(self, execution_id: str) -> Entry | None:
        """The entry of the execution ``execution_id``, if the journal holds it."""
        for entry in self.entries:
            if entry.execution.execution_id == execution_id:
                return entry
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Corrected:
    """What one correction did to a position."""

    journal: Journal
    book: Book
    """The position as it now stands (``sequence`` one further when it changed)."""
    trades: tuple[TradeClosed, ...]
    """The revisions to publish, in journal order."""
    changed: bool
    """Whether the book or any trade changed: else nothing is published."""
    entries: tuple[Entry, ...]
    """The journal's entries the correction changed (to write back)."""


class _Recorded:
    """A ``Market`` giving the stop recorded with an execution, and the extremes of ``market``."""

    def __init__(self, market: Market | None, stop: Decimal | None) -> None:
        self._market = market
        self._stop = stop

    def extremes(self, after: datetime, through: datetime) -> tuple[Decimal, Decimal] | None:
        return None if self._market is None else self._market.extremes(after, through)

    def stop(self, signal_id: str) -> Decimal | None:
        return self._stop


MarketFor = Callable[[Entry], Market | None]
"""The market context a re-derivation gives one entry's execution (None: none)."""


def journaled(
    book: Book,
    execution: ExecutionReported,
    spec: ContractSpec,
    matching: Matching = Matching.FIFO,
    market: Market | None = None,
) -> tuple[Book, list[TradeClosed], Entry]:
    """``domain.matching.apply``, and the journal entry that records the execution (to append
    to its position's journal)."""
    stop = None
    if market is not None and execution.signal_id is not None:
        stop = market.stop(execution.signal_id)
    book, trades = apply(book, execution, spec, matching, _Recorded(market, stop))
    entry = Entry(
        sequence=book.sequence,
        execution=execution,
        spec=spec,
        stop=stop,
        stale=market is None,
        trades=tuple(_published(trade) for trade in trades),
    )
    return book, trades, entry


def fold(checkpoint: Book, entries: Iterable[Entry], matching: Matching = Matching.FIFO) -> Book:
    """The book ``checkpoint`` becomes once ``entries`` are applied (the stops they recorded,
    no market context): a journal's checkpoint moved past them."""
    book = checkpoint
    for entry in entries:
        if not entry.busted:
            recorded = _Recorded(None, entry.stop)
            book, _ = apply(book, entry.execution, entry.spec, matching, recorded)
    return book


def prune(
    journal: Journal, before: datetime, matching: Matching = Matching.FIFO
) -> tuple[Journal, tuple[Entry, ...]]:
    """Fold the journal's oldest executions that happened before ``before`` into its
    checkpoint; the journal and the entries folded in (they can no longer be corrected)."""
    entries = journal.entries
    n = 0
    while n < len(entries) and entries[n].execution.envelope.ts_event < before:
        n += 1
    if n == 0:
        return journal, ()
    checkpoint = fold(journal.checkpoint, entries[:n], matching)
    return Journal(checkpoint=checkpoint, entries=entries[n:]), entries[:n]


def rederive(
    journal: Journal, matching: Matching = Matching.FIFO, market_for: MarketFor | None = None
) -> tuple[Book, dict[int, list[TradeClosed]]]:
    """The checkpoint and the journal's executions matched again: the book and each entry's
    trades, by sequence."""
    book = journal.checkpoint
    closed: dict[int, list[TradeClosed]] = {}
    for entry in journal.entries:
        if entry.busted:
            continue
        market = None if market_for is None else market_for(entry)
        book, trades = apply(
            book, entry.execution, entry.spec, matching, _Recorded(market, entry.stop)
        )
        closed[entry.sequence] = trades
    return book, closed


def amended(execution: ExecutionReported, correction: ExecutionCorrected) -> ExecutionReported:
    """``execution`` as ``correction`` says it was (its time is the fill's, ``executed_at``)."""
    return replace(
        execution,
        envelope=replace(execution.envelope, ts_event=correction.executed_at),
        side=correction.side,
        quantity=correction.quantity,
        price=correction.price,
        commission=correction.commission,
        fees=correction.fees,
        order_id=correction.order_id if correction.order_id is not None else execution.order_id,
        order_number=(
            correction.order_number
            if correction.order_number is not None
            else execution.order_number
        ),
    )


def correct(
    journal: Journal,
    book: Book,
    correction: Correction,
    matching: Matching = Matching.FIFO,
    market_for: MarketFor | None = None,
) -> Corrected:
    """Apply a correction or a bust of an execution the journal holds (see the module
    docstring); ``InvalidEventError`` when the corrected execution cannot be matched.

    A bust of an execution already busted, or a correction that changes no trade and not the
    book, changes nothing (``changed`` false)."""
    target = journal.find(correction.execution_id)
    if target is None:
        raise ValueError(f"execution {correction.execution_id!r} is not in the journal")
    if isinstance(correction, ExecutionBusted):
        replacement = replace(target, busted=True)
    else:
        replacement = replace(target, execution=amended(target.execution, correction))
    if replacement == target:
        return Corrected(journal=journal, book=book, trades=(), changed=False, entries=())
    _, before = rederive(journal, matching, market_for)
    entries = tuple(replacement if e is target else e for e in journal.entries)
    after_book, after = rederive(replace(journal, entries=entries), matching, market_for)
    previous = {t.trade_id: t for trades in before.values() for t in trades}
    revisions: list[TradeClosed] = []
    written: list[Entry] = []
    kept: list[Entry] = []
    for entry in entries:
        published, events = _revise(
            entry, after.get(entry.sequence, []), previous, correction.envelope
        )
        revisions += events
        new = replace(entry, trades=published)
        kept.append(new)
        if new != _original(journal, entry):
            written.append(new)
    changed = bool(revisions) or _position(after_book) != _position(book)
    if changed:
        book = replace(after_book, sequence=book.sequence + 1, recent=book.recent)
    return Corrected(
        journal=replace(journal, entries=tuple(kept)),
        book=book,
        trades=tuple(revisions),
        changed=changed,
        entries=tuple(written),
    )


def position_corrected(book: Book, entry: Entry, correction: Correction) -> PositionChanged:
    """The position ``book`` holds once ``correction`` of ``entry``'s execution is applied: an
    event of its own (its id derived from the position and the correction's event id)."""
    changed = position_changed(book, entry.execution, entry.spec)
    cause = correction.envelope
    key = position_key(entry.execution)
    envelope = replace(
        changed.envelope,
        event_id=EventId(_hashed("pc-", f"{key}|{cause.event_id}")),
        ts_event=cause.ts_event,
        ts_ingested=cause.ts_ingested,
        causation_ids=(cause.event_id,),
    )
    return replace(changed, envelope=envelope)


def _original(journal: Journal, entry: Entry) -> Entry | None:
    for old in journal.entries:
        if old.sequence == entry.sequence:
            return old
    return None


def _revise(
    entry: Entry,
    trades: list[TradeClosed],
    previous: dict[TradeId, TradeClosed],
    correction: Envelope,
) -> tuple[tuple[Published, ...], list[TradeClosed]]:
    """The trades one entry now closes, compared with those it published: what to publish."""
    published = {p.trade_id: p for p in entry.trades}
    records: list[Published] = []
    events: list[TradeClosed] = []
    for trade in trades:
        last = published.pop(trade.trade_id, None)
        before = previous.get(trade.trade_id)
        unchanged = before is not None and economic(before) == economic(trade)
        if last is not None and not last.voided and unchanged:
            records.append(last)
            continue
        revision = 0 if last is None else last.revision + 1
        event = revised(trade, revision, None if last is None else last.event_id, correction)
        events.append(event)
        records.append(_published(event))
    for gone in published.values():  # in the order they were published
        copy = previous.get(gone.trade_id)
        if gone.voided or copy is None:
            records.append(gone)
            continue
        event = revised(copy, gone.revision + 1, gone.event_id, correction, voided=True)
        events.append(event)
        records.append(_published(event))
    return tuple(records), events


def revised(
    trade: TradeClosed,
    revision: int,
    supersedes: str | None,
    correction: Envelope,
    *,
    voided: bool = False,
) -> TradeClosed:
    """``trade`` as revision ``revision`` caused by the correction ``correction`` (its
    envelope): lineage set, an event id derived from trade id, revision and correction."""
    cause = correction.event_id
    envelope = replace(
        trade.envelope,
        event_id=EventId(_hashed("tr-", f"{trade.trade_id}|{revision}|{cause}")),
        ts_ingested=correction.ts_ingested,
        causation_ids=(*trade.envelope.causation_ids, cause),
    )
    return replace(
        trade,
        envelope=envelope,
        revision=revision,
        supersedes=supersedes,
        correction_id=cause,
        voided=voided,
    )


def economic(trade: TradeClosed) -> tuple[Any, ...]:
    """The trade's economic content: every field but its envelope, MAE and MFE and its lineage
    (revision, supersedes, correction id, voided)."""
    return tuple(getattr(trade, name) for name in _ECONOMIC)


_ECONOMIC = tuple(f.name for f in fields(TradeClosed) if f.name not in _NOT_ECONOMIC)


def _published(trade: TradeClosed) -> Published:
    return Published(
        trade_id=trade.trade_id,
        revision=trade.revision,
        event_id=trade.envelope.event_id,
        voided=trade.voided,
    )


def _position(book: Book) -> tuple[Any, ...]:
    """What a position is, apart from how many executions and which ids it applied."""
    return (book.lots, book.round_trip, book.realized)


def _hashed(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:24]


# --- JSON ---------------------------------------------------------------------------------------


def entry_to_json(entry: Entry, encode: Callable[[ExecutionReported], str]) -> dict[str, Any]:
    """A JSON-safe dict of the entry, compact (a changelog record per execution): the
    execution as ``encode`` writes it (the caller's codec), the specification and each trade
    as a list (a trade's event id only when it is not its trade id, as for revision 0)."""
    spec = entry.spec
    return {
        "v": _JSON_VERSION,
        "seq": entry.sequence,
        "execution": encode(entry.execution),
        "spec": [
            spec.root,
            spec.name,
            spec.exchange,
            str(spec.tick_size),
            str(spec.point_value),
            spec.currency,
            spec.session_time_zone,
            spec.session_open.isoformat(),
            spec.session_close.isoformat(),
        ],
        "stop": None if entry.stop is None else str(entry.stop),
        "stale": entry.stale,
        "busted": entry.busted,
        "trades": [
            [
                p.trade_id,
                p.revision,
                None if str(p.event_id) == str(p.trade_id) else p.event_id,
                p.voided,
            ]
            for p in entry.trades
        ],
    }


def entry_from_json(data: dict[str, Any], decode: Callable[[str], ExecutionReported]) -> Entry:
    """The entry ``entry_to_json`` wrote, exactly; ``CodecError`` if ``data`` is not one."""
    try:
        if data.get("v") != _JSON_VERSION:
            raise ValueError(f"unsupported version {data.get('v')!r}")
        root, name, exchange, tick, point, currency, zone, opens, closes = data["spec"]
        return Entry(
            sequence=int(data["seq"]),
            execution=decode(data["execution"]),
            spec=ContractSpec(
                root=str(root),
                name=str(name),
                exchange=str(exchange),
                tick_size=Decimal(tick),
                point_value=Decimal(point),
                currency=str(currency),
                session_time_zone=str(zone),
                session_open=time.fromisoformat(opens),
                session_close=time.fromisoformat(closes),
            ),
            stop=None if data["stop"] is None else Decimal(data["stop"]),
            stale=bool(data["stale"]),
            busted=bool(data["busted"]),
            trades=tuple(
                Published(
                    trade_id=TradeId(trade_id),
                    revision=int(revision),
                    event_id=EventId(trade_id if event_id is None else event_id),
                    voided=bool(voided),
                )
                for trade_id, revision, event_id, voided in data["trades"]
            ),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as e:
        raise CodecError(f"journal entry: not a stored entry ({type(e).__name__}: {e})") from e
