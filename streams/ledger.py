"""A scope's closed trades in event-time order, and the figures of its windows. Pure.

The trades of one scope (an account, a strategy, ...) come from several positions, so from
several Kafka partitions, whose interleaving differs between a live run and a replay. A
``Ledger`` keeps them ordered by (exit time, trade id) whatever order they arrive in, so its
figures depend on the set of trades alone: a trade that arrives late is inserted where it
belongs, and the running ``Tally`` is recomputed from the last checkpoint before it (one every
``CHECKPOINT_EVERY`` trades). A trade id already in the ledger is ignored.

Windows: ``all_time()``, ``day(d)`` (the trades whose trading day is ``d``) and ``last(n)`` (the
``n`` latest trades). Each comes with what identifies it: how many trades, the latest of them,
and a digest of their ids that is the same for the same set in any order.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from streams.performance import Performance, Tally, TradeResult, session_bounds

CHECKPOINT_EVERY = 1024
"""Trades between two kept copies of the running tally: the most a late trade re-adds, beyond
the trades after it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The figures of a window's trades and what identifies the set."""

    performance: Performance
    count: int
    latest: TradeResult | None
    """The last trade in (exit time, trade id) order."""
    digest: int
    """XOR of the trades' id hashes: equal for equal sets."""
    ts_ingested: datetime | None
    """The latest time the bridge recorded one of the trades' executions."""
    currency: str | None
    """The trades' currency; None when they have several (or none)."""


@dataclass(slots=True)
class _Running:
    """The running figures of an ordered run of trades, with a copy of the tally every
    ``CHECKPOINT_EVERY`` trades, and what identifies the set (order-free)."""

    capital: Decimal | None
    tally: Tally = field(init=False)
    checkpoints: list[tuple[int, Tally]] = field(init=False)
    count: int = 0
    latest: TradeResult | None = None
    digest: int = 0
    ts_ingested: datetime | None = None
    currencies: set[str | None] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tally = Tally(capital=self.capital)
        self.checkpoints = [(0, self.tally.copy())]

    def append(self, trade: TradeResult) -> None:
        """Count ``trade``, the newest of the run."""
        self._note(trade)
        self.tally.add(trade)
        if self.count % CHECKPOINT_EVERY == 0:
            self.checkpoints.append((self.count, self.tally.copy()))

    def insert(self, trades: Sequence[TradeResult], at: int) -> None:
        """Count ``trades[at]``, just inserted into the run ``trades``: recount from the last
        checkpoint at or before ``at``."""
        self._note(trades[at])
        while self.checkpoints[-1][0] > at:
            self.checkpoints.pop()
        start, tally = self.checkpoints[-1]
        tally = tally.copy()
        for index in range(start, len(trades)):
            tally.add(trades[index])
            if (index + 1) % CHECKPOINT_EVERY == 0:
                self.checkpoints.append((index + 1, tally.copy()))
        self.tally = tally

    def _note(self, trade: TradeResult) -> None:
        self.count += 1
        if self.latest is None or (trade.exit_time, trade.trade_id) > (
            self.latest.exit_time,
            self.latest.trade_id,
        ):
            self.latest = trade
        self.digest ^= _id_hash(trade.trade_id)
        if trade.ts_ingested is not None and (
            self.ts_ingested is None or trade.ts_ingested > self.ts_ingested
        ):
            self.ts_ingested = trade.ts_ingested
        self.currencies.add(trade.currency)

    def window(self) -> Window:
        return Window(
            performance=self.tally.performance(),
            count=self.count,
            latest=self.latest,
            digest=self.digest,
            ts_ingested=self.ts_ingested,
            currency=_common(self.currencies),
        )


class Ledger:
    """The trades of one scope, ordered by (exit time, trade id); see the module docstring."""

    def __init__(self, *, capital: Decimal | None = None) -> None:
        self.capital = capital
        self._keys: list[tuple[datetime, str]] = []
        self._trades: list[TradeResult] = []
        self._ids: set[str] = set()
        self._all = _Running(capital)
        self._days: dict[date, _Running] = {}

    def __len__(self) -> int:
        return len(self._trades)

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._ids

    @property
    def trades(self) -> Sequence[TradeResult]:
        """The trades in order (a view: do not change it)."""
        return self._trades

    def add(self, trade: TradeResult) -> bool:
        """Count ``trade`` where it belongs; False (nothing changes) if its id is already in."""
        if not trade.trade_id:
            raise ValueError("a ledger's trades need their trade_id")
        if trade.trade_id in self._ids:
            return False
        key = (trade.exit_time, trade.trade_id)
        at = bisect_right(self._keys, key)
        self._keys.insert(at, key)
        self._trades.insert(at, trade)
        self._ids.add(trade.trade_id)
        day = self._days.setdefault(trade.trading_day, _Running(self.capital))
        if at == len(self._trades) - 1:
            self._all.append(trade)
            day.append(trade)
        else:
            self._all.insert(self._trades, at)
            start, end = self._day_bounds(trade.trading_day)
            day.insert(self._trades[start:end], at - start)
        return True

    def all_time(self) -> Window:
        return self._all.window()

    def day(self, day: date) -> Window:
        """The window of the trades whose trading day is ``day``."""
        return (self._days.get(day) or _Running(self.capital)).window()

    def last(self, count: int) -> Window:
        """The window of the ``count`` latest trades."""
        if count <= 0:
            raise ValueError(f"a rolling window needs at least one trade, was {count}")
        running = _Running(self.capital)
        for t in self._trades[-count:]:
            running.append(t)
        return running.window()

    def _day_bounds(self, day: date) -> tuple[int, int]:
        start, end = session_bounds(day)
        return bisect_left(self._keys, (start, "")), bisect_left(self._keys, (end, ""))


def _id_hash(trade_id: str) -> int:
    return int.from_bytes(hashlib.sha256(trade_id.encode()).digest()[:16], "big")


def _common(currencies: set[str | None]) -> str | None:
    return next(iter(currencies)) if len(currencies) == 1 else None
