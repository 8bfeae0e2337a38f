"""One experiment's trades as read so far, folded for the guard's every check: the always-valid
test over the trades in exit order, and how many trades each arm closed since a moment.

Trades come in chunks, in any order (the guard reads what was projected since its last check).
A trade closing after every tallied one, the usual case, costs O(1); one closing earlier (an
import, an account whose trades came late) refolds the test from the checkpoint before it,
O(trades after it). A trade id already tallied is skipped, and so is a trade of an arm this
version does not know. Whatever the chunks and their order,
the state equals ``experiment_report.sequential_test`` over the same trades."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from domain.experiments.report import STATISTICS_ARMS, ArmTrade, exit_order
from domain.experiments.stats import SequentialState, apply, start_sequential
from schemas.events import ExperimentArm

CHECKPOINT_EVERY = 256
"""Trades between kept states: a late trade refolds at most this many more than follow it."""


class Tally:
    """Mutable on purpose: a frozen copy per trade would cost O(trades), which is what this
    avoids."""

    def __init__(self, *, mixing_variance: float | None = None) -> None:
        start = start_sequential(mixing_variance=mixing_variance)
        self._keys: list[tuple[datetime, str]] = []
        self._trades: list[ArmTrade] = []
        self._ids: set[str] = set()
        self._checkpoints: list[SequentialState] = [start]
        """The state before trade ``k * CHECKPOINT_EVERY``, for each k reached."""
        self._state = start
        self._exits: dict[ExperimentArm, list[tuple[datetime, str]]] = {
            ExperimentArm.CONTROL: [],
            ExperimentArm.TREATMENT: [],
        }

    @property
    def state(self) -> SequentialState:
        """The test after every tallied trade."""
        return self._state

    def __len__(self) -> int:
        return len(self._trades)

    def add(self, trades: Iterable[ArmTrade]) -> int:
        """Fold in the trades not tallied yet; how many that was."""
        before = len(self._trades)
        first = before
        for trade in sorted(trades, key=exit_order):
            if trade.trade_id in self._ids or trade.arm not in STATISTICS_ARMS:
                continue
            self._ids.add(trade.trade_id)
            key = exit_order(trade)
            at = bisect.bisect_right(self._keys, key)
            self._keys.insert(at, key)
            self._trades.insert(at, trade)
            bisect.insort(self._exits[trade.arm], key)
            first = min(first, at)
        if len(self._trades) > before:
            self._fold_from(first, appended=first == before)
        return len(self._trades) - before

    def since(self, moment: datetime) -> Counter[str]:
        """Trades per arm (its value) that closed at ``moment`` or later."""
        return Counter(
            {
                arm.value: len(keys) - bisect.bisect_left(keys, (moment, ""))
                for arm, keys in self._exits.items()
            }
        )

    def _fold_from(self, first: int, *, appended: bool) -> None:
        if appended:
            start, state = first, self._state
        else:
            k = first // CHECKPOINT_EVERY
            del self._checkpoints[k + 1 :]
            start, state = k * CHECKPOINT_EVERY, self._checkpoints[k]
        for i in range(start, len(self._trades)):
            if i % CHECKPOINT_EVERY == 0 and i // CHECKPOINT_EVERY == len(self._checkpoints):
                self._checkpoints.append(state)
            trade = self._trades[i]
            state = apply(state, STATISTICS_ARMS[trade.arm], trade.net_pnl)
        self._state = state
