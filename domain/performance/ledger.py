"""A scope's closed trades in event-time order, and the figures of its windows. Pure.

The trades of one scope (an account, a strategy, ...) come from several positions, so from
several Kafka partitions, whose interleaving differs between a live run and a replay. A
``Ledger`` keeps them ordered by (exit time, trade id) whatever order they arrive in, so its
figures depend on the set of trades alone. A trade id already in the ledger is ignored.

A trade is corrected by its revisions (``revise``: a later revision replaces the one counted,
wherever it falls; ``void``: the trade no longer counts). A revision not later than the last one
seen of its trade changes nothing, so redeliveries and revisions that come out of order leave
the figures those of the latest revisions: the same as a ledger given only those.

Each trading day's trades are kept in blocks of up to ``2 * BLOCK`` trades, each with its
``Tally``. Tallies compose (``Tally.extend``), so a day's figures are its blocks' tallies
joined in order, and all time is the days' joined. A trade that is the newest of its day (the
usual case) is added to the last block's tally; one that arrives late is inserted into its
block, which is recounted, and the day's fold is redone from that block on. Folds are redone
when a window is read, so once per batch, not per trade.

Windows: ``all_time()``, ``day(d)`` (the trades whose trading day is ``d``) and ``last(n)`` (the
``n`` latest trades). Each comes with what identifies it: how many trades, the latest of them,
and a digest of their ids that is the same for the same set in any order.

A ledger with a starting ``capital`` gives each window its drawdown as a share of equity: all
time from the capital, a day or the last N trades from the capital plus the net profit of the
trades before them (see ``domain.performance.figures``).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, localcontext

from domain.errors import MissingTradeIdError, WindowSizeError
from domain.performance.figures import _EXACT, Performance, Tally, TradeResult

BLOCK = 32
"""Trades in a block once it is split: what a late trade recounts, at most twice that."""

_Key = tuple[datetime, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The figures of a window's trades and what identifies the set."""

    performance: Performance
    count: int
    latest: TradeResult | None
    """The last trade in (exit time, trade id) order."""
    digest: int
    """XOR of the hashes of the trades' ids and revisions: equal for equal sets."""
    ts_ingested: datetime | None
    """The latest time the bridge recorded one of the trades' executions."""
    currency: str | None
    """The trades' currency; None when they have several (or none)."""


@dataclass(slots=True)
class _Identity:
    """What identifies a set of trades, whatever order they are counted in."""

    count: int = 0
    latest: TradeResult | None = None
    digest: int = 0
    ts_ingested: datetime | None = None
    currencies: set[str | None] = field(default_factory=set)

    def note(self, trade: TradeResult, digest: int) -> None:
        self.count += 1
        self.note_latest(trade)
        self.digest ^= digest
        if trade.ts_ingested is not None and (
            self.ts_ingested is None or trade.ts_ingested > self.ts_ingested
        ):
            self.ts_ingested = trade.ts_ingested
        self.currencies.add(trade.currency)

    def join(self, other: _Identity) -> None:
        """Count ``other``'s trades too."""
        self.count += other.count
        self.digest ^= other.digest
        if other.latest is not None:
            self.note_latest(other.latest)
        if other.ts_ingested is not None and (
            self.ts_ingested is None or other.ts_ingested > self.ts_ingested
        ):
            self.ts_ingested = other.ts_ingested
        self.currencies |= other.currencies

    def note_latest(self, trade: TradeResult) -> None:
        if self.latest is None or (trade.exit_time, trade.trade_id) > (
            self.latest.exit_time,
            self.latest.trade_id,
        ):
            self.latest = trade

    def window(self, tally: Tally, start: Decimal | None = None) -> Window:
        currencies = self.currencies
        return Window(
            performance=tally.performance(start),
            count=self.count,
            latest=self.latest,
            digest=self.digest,
            ts_ingested=self.ts_ingested,
            currency=next(iter(currencies)) if len(currencies) == 1 else None,
        )


@dataclass(slots=True)
class _Block:
    keys: list[_Key]
    trades: list[TradeResult]
    digests: list[int]
    tally: Tally | None
    """None until recounted, after a late trade."""

    def counted(self) -> Tally:
        if self.tally is None:
            self.tally = Tally()
            for t in self.trades:
                self.tally.add(t)
        return self.tally


class _Day:
    """One trading day's trades in order, in blocks, and the fold of the blocks' tallies but
    the last (``folds[i]``: blocks 0 to i, kept for the blocks before the first changed one)."""

    __slots__ = ("blocks", "firsts", "folds", "identity", "_tally")

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.firsts: list[_Key] = []
        """The first key of each block."""
        self.folds: list[Tally] = []
        self.identity = _Identity()
        self._tally: Tally | None = None

    def add(self, trade: TradeResult, digest: int) -> None:
        self.identity.note(trade, digest)
        self._tally = None
        key = (trade.exit_time, trade.trade_id)
        blocks = self.blocks
        index = max(bisect_right(self.firsts, key) - 1, 0)
        if not blocks or (index == len(blocks) - 1 and key > blocks[-1].keys[-1]):
            self._append(trade, key, digest)
            return
        block = blocks[index]
        at = bisect_right(block.keys, key)
        block.keys.insert(at, key)
        block.trades.insert(at, trade)
        block.digests.insert(at, digest)
        block.tally = None
        self.firsts[index] = block.keys[0]
        if len(block.keys) > 2 * BLOCK:
            half = len(block.keys) // 2
            later = _Block(block.keys[half:], block.trades[half:], block.digests[half:], None)
            del block.keys[half:], block.trades[half:], block.digests[half:]
            blocks.insert(index + 1, later)
            self.firsts.insert(index + 1, later.keys[0])
        del self.folds[index:]

    def remove(self, key: _Key) -> None:
        """Take out the trade of ``key`` (it is in): its block is recounted."""
        index = max(bisect_right(self.firsts, key) - 1, 0)
        block = self.blocks[index]
        at = bisect_left(block.keys, key)
        del block.keys[at], block.trades[at], block.digests[at]
        if block.keys:
            block.tally = None
            self.firsts[index] = block.keys[0]
        else:
            del self.blocks[index], self.firsts[index]
        # a fold covers the blocks up to one before the last: the last may be one less now
        del self.folds[min(index, max(len(self.blocks) - 1, 0)) :]
        self._tally = None
        self.identity = _Identity()
        for b in self.blocks:
            for t, digest in zip(b.trades, b.digests, strict=True):
                self.identity.note(t, digest)

    def _append(self, trade: TradeResult, key: _Key, digest: int) -> None:
        """``trade`` is the day's newest: it joins the last block, or starts one."""
        blocks = self.blocks
        if blocks and len(blocks[-1].keys) < BLOCK:
            last = blocks[-1]
            last.keys.append(key)
            last.trades.append(trade)
            last.digests.append(digest)
            if last.tally is not None:
                last.tally.add(trade)
            return
        tally = Tally()
        tally.add(trade)
        blocks.append(_Block([key], [trade], [digest], tally))
        self.firsts.append(key)

    def tally(self) -> Tally:
        """The tally of the whole day (do not change it)."""
        if self._tally is None:
            folds, blocks = self.folds, self.blocks
            for block in blocks[len(folds) : len(blocks) - 1]:
                fold = _joined(folds[-1]) if folds else Tally()
                fold.extend(block.counted())
                folds.append(fold)
            self._tally = _joined(*folds[-1:], blocks[-1].counted())
        return self._tally


class Ledger:
    """The trades of one scope, ordered by (exit time, trade id); see the module docstring."""

    def __init__(self, capital: Decimal | None = None) -> None:
        self.capital = capital
        self._revisions: dict[str, int] = {}
        """Each trade id seen: its latest revision (a voided one's too)."""
        self._counted: dict[str, TradeResult] = {}
        """The trades counted, by id: their latest revisions not voided."""
        self.changes = 0
        """Σ (latest revision + 1) over the trade ids seen: the number of trades when none was
        corrected, and it grows with every trade, revision and void, so a snapshot with more
        changes is the later one (``PerformanceSnapshot.scope_trades``)."""
        self._days: dict[date, _Day] = {}
        self._order: list[date] = []
        self._before: Tally | None = self._origin()
        """The fold of every day but the last; None after a trade on an earlier day."""
        self._all: Tally | None = None
        self._identity = _Identity()

    def __len__(self) -> int:
        return self._identity.count

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._counted

    def revision(self, trade_id: str) -> int | None:
        """The latest revision of ``trade_id`` seen (voided or not); None: never seen."""
        return self._revisions.get(trade_id)

    @property
    def trades(self) -> Sequence[TradeResult]:
        """The trades in order (a copy: O(trades))."""
        return [t for d in self._order for b in self._days[d].blocks for t in b.trades]

    def add(self, trade: TradeResult) -> bool:
        """Count ``trade`` (its first revision) where it belongs; False (nothing changes) if its
        id is already in."""
        return self.revise(trade, 0) is not None

    def revise(self, trade: TradeResult, revision: int) -> frozenset[date] | None:
        """Count ``revision`` of ``trade`` in place of the one counted: the trading days whose
        trades changed; None (nothing changes) when a revision as late was seen already."""
        trade_id = trade.trade_id
        if not trade_id:
            raise MissingTradeIdError()
        if not self._later(trade_id, revision):
            return None
        days = self._remove(trade_id)
        self._insert(trade, _id_hash(trade_id, revision))
        return days | {trade.trading_day}

    def void(self, trade_id: str, revision: int) -> frozenset[date] | None:
        """``trade_id`` no longer counts from ``revision`` on: the trading day it leaves (none
        if it was not counted); None (nothing changes) when a revision as late was seen."""
        if not trade_id:
            raise MissingTradeIdError()
        if not self._later(trade_id, revision):
            return None
        return self._remove(trade_id)

    def _later(self, trade_id: str, revision: int) -> bool:
        """Record ``revision`` of ``trade_id`` if it is later than the one seen."""
        seen = self._revisions.get(trade_id)
        if seen is not None and revision <= seen:
            return False
        self._revisions[trade_id] = revision
        self.changes += revision - (-1 if seen is None else seen)
        return True

    def _insert(self, trade: TradeResult, digest: int) -> None:
        self._counted[trade.trade_id] = trade
        self._identity.note(trade, digest)
        self._all = None
        when = trade.trading_day
        day = self._days.get(when)
        if day is None:
            day = self._days[when] = _Day()
            if self._order and when < self._order[-1]:
                self._before = None
            elif self._order and self._before is not None:
                self._before.extend(self._days[self._order[-1]].tally())
            insort(self._order, when)
        elif when != self._order[-1]:
            self._before = None
        day.add(trade, digest)

    def _remove(self, trade_id: str) -> frozenset[date]:
        """Take out the counted trade ``trade_id``: the day it leaves (none if not counted)."""
        trade = self._counted.pop(trade_id, None)
        if trade is None:
            return frozenset()
        when = trade.trading_day
        day = self._days[when]
        day.remove((trade.exit_time, trade_id))
        if not day.blocks:
            del self._days[when]
            self._order.remove(when)
        self._before = None
        self._all = None
        self._identity = _Identity()
        for d in self._order:
            self._identity.join(self._days[d].identity)
        return frozenset((when,))

    def _origin(self) -> Tally:
        """An empty tally of the scope from its first trade: with the capital, or keeping no
        segments (all time has no later start)."""
        return Tally(capital=self.capital) if self.capital is not None else Tally(segments=None)

    def _whole(self) -> Tally:
        if self._all is None:
            if self._before is None:
                self._before = self._origin()
                for d in self._order[:-1]:
                    self._before.extend(self._days[d].tally())
            self._all = self._before.copy()
            if self._order:
                self._all.extend(self._days[self._order[-1]].tally())
        return self._all

    def all_time(self) -> Window:
        return self._identity.window(self._whole())

    def day(self, day: date) -> Window:
        """The window of the trades whose trading day is ``day``."""
        found = self._days.get(day)
        if found is None:
            return _Identity().window(Tally())
        return found.identity.window(found.tally(), self._start(day))

    def _start(self, day: date) -> Decimal | None:
        """The equity before ``day``'s first trade: the capital plus the days' before."""
        if self.capital is None:
            return None
        if self._before is not None and self._order and day == self._order[-1]:
            return self.capital + self._before.equity
        with localcontext(_EXACT):
            before = (self._days[d].tally().equity for d in self._order if d < day)
            return self.capital + sum(before, Decimal(0))

    def last(self, count: int) -> Window:
        """The window of the ``count`` latest trades: whole blocks by their tallies."""
        if count <= 0:
            raise WindowSizeError(count)
        pieces: list[tuple[_Block, int]] = []
        wanted = count
        for d in reversed(self._order):
            for block in reversed(self._days[d].blocks):
                take = min(wanted, len(block.trades))
                pieces.append((block, take))
                wanted -= take
                if not wanted:
                    break
            if not wanted:
                break
        tally, identity = Tally(), _Identity()
        for block, take in reversed(pieces):
            if take == len(block.trades):
                tally.extend(block.counted())
            else:
                for t in block.trades[-take:]:
                    tally.add(t)
            for t, digest in zip(block.trades[-take:], block.digests[-take:], strict=True):
                identity.note(t, digest)
        start = None
        if self.capital is not None:
            with localcontext(_EXACT):
                start = self.capital + self._whole().equity - tally.equity
        return identity.window(tally, start)


def _joined(*tallies: Tally) -> Tally:
    """A new tally of the trades of ``tallies``, in order."""
    joined = Tally()
    for t in tallies:
        joined.extend(t)
    return joined


def _id_hash(trade_id: str, revision: int = 0) -> int:
    """The hash of a trade's id, and of its revision after the first."""
    text = trade_id if not revision else f"{trade_id}#{revision}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")
