"""The figures over the trades view, kept until the trades change.

Summing 100,000 trades exactly (numeric money, an equity curve in exit order) takes PostgreSQL
a few hundred milliseconds, however well indexed; the trades change a few times a minute at most.
So each answer is kept with the *stamp* of the trades it was computed from, and given again while
the stamp is the same: the newest ``projected_xid`` in the ``trades`` view (a new trade or a new
revision), the newest in ``trade_corrections`` (a revision that voided a trade, which the trades
view no longer shows), and the trades view's definition (a rebuild switches it to another
version's table). Reading the stamp costs an index probe, not a scan."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

STAMP = """
SELECT (SELECT t.projected_xid::text AS newest FROM trades t
        ORDER BY t.projected_xid DESC LIMIT 1),
       (SELECT c.projected_xid::text AS newest FROM trade_corrections c
        ORDER BY c.projected_xid DESC LIMIT 1),
       md5(pg_get_viewdef('trades'::regclass))
"""

KEPT = 256
"""Answers kept, the least recently used dropped first."""


class Answers:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._answers: OrderedDict[str, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, stamp: tuple[Any, ...]) -> Any | None:
        found = self._answers.get(key)
        if found is None or found[0] != stamp:
            self.misses += 1
            return None
        self._answers.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, key: str, stamp: tuple[Any, ...], answer: Any) -> None:
        self._answers[key] = (stamp, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._kept:
            self._answers.popitem(last=False)
