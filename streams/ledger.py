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
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from streams.performance import Performance, Tally, TradeResult, session_bounds, summarize

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


class Ledger:
    """The trades of one scope, ordered by (exit time, trade id); see the module docstring."""

    def __init__(self, *, capital: Decimal | None = None) -> None:
        self.capital = capital
        self._keys: list[tuple[datetime, str]] = []
        self._trades: list[TradeResult] = []
        self._ids: set[str] = set()
        self._checkpoints: list[tuple[int, Tally]] = [(0, Tally(capital=capital))]
        self._tally = Tally(capital=capital)
        self._digest = 0
        self._ts_ingested: datetime | None = None
        self._currencies: set[str | None] = set()

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
        self._digest ^= _id_hash(trade.trade_id)
        if trade.ts_ingested is not None and (
            self._ts_ingested is None or trade.ts_ingested > self._ts_ingested
        ):
            self._ts_ingested = trade.ts_ingested
        self._currencies.add(trade.currency)
        if at == len(self._trades) - 1:
            self._tally.add(trade)
            self._checkpoint()
        else:
            self._refold(at)
        return True

    def all_time(self) -> Window:
        return Window(
            performance=self._tally.performance(),
            count=len(self._trades),
            latest=self._trades[-1] if self._trades else None,
            digest=self._digest,
            ts_ingested=self._ts_ingested,
            currency=_common(self._currencies),
        )

    def day(self, day: date) -> Window:
        """The window of the trades whose trading day is ``day``."""
        start, end = session_bounds(day)
        return self._window(
            self._trades[bisect_left(self._keys, (start, "")) : bisect_left(self._keys, (end, ""))]
        )

    def last(self, count: int) -> Window:
        """The window of the ``count`` latest trades."""
        if count <= 0:
            raise ValueError(f"a rolling window needs at least one trade, was {count}")
        return self._window(self._trades[-count:])

    def _window(self, trades: Sequence[TradeResult]) -> Window:
        digest = 0
        for t in trades:
            digest ^= _id_hash(t.trade_id)
        return Window(
            performance=summarize(trades, capital=self.capital),
            count=len(trades),
            latest=trades[-1] if trades else None,
            digest=digest,
            ts_ingested=max((t.ts_ingested for t in trades if t.ts_ingested), default=None),
            currency=_common({t.currency for t in trades}),
        )

    def _checkpoint(self) -> None:
        if len(self._trades) % CHECKPOINT_EVERY == 0:
            self._checkpoints.append((len(self._trades), self._tally.copy()))

    def _refold(self, at: int) -> None:
        """Recount from the last checkpoint at or before index ``at``."""
        while self._checkpoints[-1][0] > at:
            self._checkpoints.pop()
        start, tally = self._checkpoints[-1]
        self._tally = tally.copy()
        for index in range(start, len(self._trades)):
            self._tally.add(self._trades[index])
            if (index + 1) % CHECKPOINT_EVERY == 0:
                self._checkpoints.append((index + 1, self._tally.copy()))


def _id_hash(trade_id: str) -> int:
    return int.from_bytes(hashlib.sha256(trade_id.encode()).digest()[:16], "big")


def _common(currencies: set[str | None]) -> str | None:
    return next(iter(currencies)) if len(currencies) == 1 else None
