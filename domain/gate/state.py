"""What the gate knows when it decides: a fold of the log (``GateState.apply``).

It follows closed trades (latest revision of each; voided ones leave), positions, bars, regime
labels, contract definitions, calibration models, its own decisions and the halts and resumes of
``control.gate``. Each part is keyed and kept in a canonical order (trades by exit time, bars by
close time, the newest position by sequence, the newest model by version), so the same events
give the same state whatever the order the partitions of different topics were read in: that is
what lets a decision replay from the log positions it records. Paper accounts (``PAPER:…``) are
not the gate's business and are passed over.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from domain.contracts import ContractBook
from domain.gate.rules import Scope
from domain.paper import paper_account
from schemas.events import (
    BarClosed,
    CalibrationFitted,
    Decision,
    GateAction,
    GateChanged,
    InstrumentDefined,
    PositionChanged,
    RegimeLabeled,
    TradeClosed,
    TradeDecided,
)

T = TypeVar("T")

BARS_KEPT = 64
"""Bars kept per instrument and period: enough for a 50-bar ATR."""
BARS_LOOKBACK = timedelta(days=3)
"""Bars older than this (by close time) at a decision are not looked at: the bridge reads
``raw.market`` from this far back only, and a replay from the start must see what it saw."""

GateEvent = (
    TradeClosed
    | PositionChanged
    | BarClosed
    | RegimeLabeled
    | InstrumentDefined
    | CalibrationFitted
    | TradeDecided
    | GateChanged
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """A closed trade as the gate counts it."""

    exit_time: datetime
    trade_id: str
    net: Decimal
    strategy: str | None
    instrument: str
    entry_time: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """The running net of a stretch of an account's trades in exit order, and its high-water
    mark (never below 0, where the stretch starts)."""

    net: Decimal
    high: Decimal


@dataclass(frozen=True, slots=True)
class _Folded:
    """A ``Run`` over ``trades[lo:hi]`` of an account whose trades had ``generation``."""

    generation: int
    lo: int
    hi: int
    run: Run


RUNS_KEPT = 4096
"""Folded runs remembered (a few per account, scope and session); past it they are forgotten
and folded again when asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt:
    halt_id: str
    scope: Scope
    since: datetime
    trading_day: date | None
    """The session it holds for; None: until a person resumes it."""
    rule: str | None
    reason: str
    actor: str


class GateState:
    """The gate's view of the log, folded event by event; see the module's docs."""

    def __init__(self) -> None:
        self.contracts = ContractBook()
        self._revisions: dict[str, tuple[int, Closed | None, str]] = {}
        self._closed: dict[str, list[Closed]] = defaultdict(list)
        self._generation: dict[str, int] = defaultdict(int)
        """Per account, bumped when its trades change other than by a trade exiting last."""
        self._realized: dict[str, Decimal] = defaultdict(Decimal)
        self._runs: dict[tuple[str, str | None, str | None, datetime | None], _Folded] = {}
        self._memo: dict[Hashable, Any] = {}
        """Figures of all trades and regime labels (``remembered``); emptied when they change."""
        self._positions: dict[tuple[str, str, str | None], tuple[int, int]] = {}
        self._bars: dict[tuple[str, str], list[BarClosed]] = defaultdict(list)
        self._last_bar: dict[str, datetime] = {}
        self._regimes: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
        self._models: dict[tuple[str, str | None], CalibrationFitted] = {}
        self._decisions: dict[str, TradeDecided] = {}
        self._decision_ids: set[str] = set()
        self._entries: dict[str, list[TradeDecided]] = defaultdict(list)
        self._halts: dict[str, Halt] = {}
        self._resumes: list[GateChanged] = []
        self.logged_version: str | None = None
        """The rules version ``control.gate`` last logged."""

    # -- the fold ------------------------------------------------------------------------------

    def apply(self, event: GateEvent) -> None:
        match event:
            case TradeClosed():
                self._trade(event)
            case PositionChanged():
                self._position(event)
            case BarClosed():
                self._bar(event)
            case RegimeLabeled():
                series = self._regimes[event.instrument]
                item = (event.envelope.ts_event, event.period, event.label.value)
                if item not in series:
                    bisect.insort(series, item)
                    self._memo.clear()
            case InstrumentDefined():
                self.contracts.define(event)
            case CalibrationFitted():
                key = (event.strategy, event.regime)
                known = self._models.get(key)
                if known is None or event.version > known.version:
                    self._models[key] = event
            case TradeDecided():
                self._decided(event)
            case GateChanged():
                self._changed(event)

    def _trade(self, trade: TradeClosed) -> None:
        if paper_account(trade.account):
            return
        known = self._revisions.get(trade.trade_id)
        if known is not None and known[0] >= trade.revision:
            return
        if known is not None and known[1] is not None:
            closed = self._closed[known[2]]
            gone = closed.pop(bisect.bisect_left(closed, _order(known[1]), key=_order))
            self._generation[known[2]] += 1
            self._realized[known[2]] -= gone.net
            self._memo.clear()
        entry = None
        if not trade.voided:
            entry = Closed(
                exit_time=trade.exit_time,
                trade_id=trade.trade_id,
                net=trade.net_pnl,
                strategy=trade.strategy,
                instrument=trade.instrument,
                entry_time=trade.entry_time,
            )
            closed = self._closed[trade.account]
            index = bisect.bisect_right(closed, _order(entry), key=_order)
            if index < len(closed):  # not the newest exit: folded runs past it are wrong now
                self._generation[trade.account] += 1
            closed.insert(index, entry)
            self._realized[trade.account] += entry.net
            self._memo.clear()
        self._revisions[trade.trade_id] = (trade.revision, entry, trade.account)

    def _position(self, change: PositionChanged) -> None:
        if paper_account(change.account):
            return
        key = (change.account, change.instrument, change.strategy)
        known = self._positions.get(key)
        if known is None or change.sequence > known[0]:
            self._positions[key] = (change.sequence, change.quantity)

    def _bar(self, bar: BarClosed) -> None:
        series = self._bars[(bar.instrument, bar.period)]
        at = bar.envelope.ts_event
        index = bisect.bisect_left(series, at, key=_closed_at)
        if index < len(series) and _closed_at(series[index]) == at:
            return
        series.insert(index, bar)
        del series[:-BARS_KEPT]
        last = self._last_bar.get(bar.instrument)
        if last is None or at > last:
            self._last_bar[bar.instrument] = at

    def _decided(self, decision: TradeDecided) -> None:
        if decision.decision_id in self._decision_ids:
            return
        self._decision_ids.add(decision.decision_id)
        self._decisions[decision.signal_id] = decision
        if decision.decision is Decision.ALLOW:
            self._entries[decision.account].append(decision)
        if decision.halt_started and decision.halt_id is not None:
            scope = Scope(
                account=decision.account,
                strategy=decision.halt_strategy,
                instrument=decision.halt_instrument,
            )
            failed = [r for r in decision.rules if r.halt and r.verdict.value == "fail"]
            self._halts[decision.halt_id] = Halt(
                halt_id=decision.halt_id,
                scope=scope,
                since=decision.envelope.ts_event,
                trading_day=date.fromisoformat(decision.trading_day),
                rule=failed[0].rule if failed else None,
                reason=failed[0].reason if failed else "",
                actor="gate",
            )

    def _changed(self, change: GateChanged) -> None:
        scope = Scope(account=change.account, strategy=change.strategy,
                      instrument=change.instrument)  # fmt: skip
        if change.action is GateAction.HALTED and change.halt_id is not None:
            self._halts[change.halt_id] = Halt(
                halt_id=change.halt_id,
                scope=scope,
                since=change.envelope.ts_event,
                trading_day=date.fromisoformat(change.trading_day) if change.trading_day else None,
                rule=change.rule,
                reason=change.reason,
                actor=change.actor,
            )
        elif change.action is GateAction.RESUMED:
            bisect.insort(self._resumes, change, key=lambda c: c.envelope.ts_event)
        elif change.action is GateAction.CONFIGURED:
            self.logged_version = change.rules_version

    def withdraw(self, decision: TradeDecided) -> None:
        """Forget a decision that was applied but could not be stored (never answered)."""
        if decision.decision_id not in self._decision_ids:
            return
        self._decision_ids.discard(decision.decision_id)
        if self._decisions.get(decision.signal_id) is decision:
            del self._decisions[decision.signal_id]
        entries = self._entries.get(decision.account, [])
        if decision in entries:
            entries.remove(decision)
        if decision.halt_started and decision.halt_id is not None:
            self._halts.pop(decision.halt_id, None)

    # -- what the rules ask --------------------------------------------------------------------

    def decided(self, signal_id: str) -> TradeDecided | None:
        return self._decisions.get(signal_id)

    def run(self, account: str, *, since: datetime | None, until: datetime, scope: Scope) -> Run:
        """The ``Run`` of the account's trades that exited in ``[since, until]`` within
        ``scope``. Remembered per account, scope and ``since``: asked again later, it folds only
        the trades that exited since, unless an earlier exit changed meanwhile."""
        trades = self._closed.get(account, [])
        lo = 0 if since is None else bisect.bisect_left(trades, since, key=_exit)
        hi = max(lo, bisect.bisect_right(trades, until, key=_exit))  # until before since: none
        key = (account, scope.strategy, scope.instrument, since)
        generation = self._generation[account]
        known = self._runs.get(key)
        if known is None or known.generation != generation or known.lo != lo or known.hi > hi:
            net = high = Decimal(0)
            start = lo
        else:
            net, high, start = known.run.net, known.run.high, known.hi
        for trade in islice(trades, start, hi):
            if _within(scope, trade.strategy, trade.instrument):
                net += trade.net
                if net > high:
                    high = net
        run = Run(net, high)
        if len(self._runs) >= RUNS_KEPT:
            self._runs.clear()
        self._runs[key] = _Folded(generation, lo, hi, run)
        return run

    def latest_first(
        self, account: str, *, since: datetime | None, until: datetime, scope: Scope
    ) -> Iterator[Closed]:
        """The account's trades that exited in ``[since, until]`` within ``scope``, newest
        exit first, read only as far as asked."""
        trades = self._closed.get(account, [])
        lo = 0 if since is None else bisect.bisect_left(trades, since, key=_exit)
        hi = bisect.bisect_right(trades, until, key=_exit)
        for index in range(hi - 1, lo - 1, -1):
            trade = trades[index]
            if _within(scope, trade.strategy, trade.instrument):
                yield trade

    def position(self, account: str, instrument: str, strategy: str | None) -> int:
        """The net position (long positive) of ``account`` in ``instrument``: of ``strategy``'s
        positions only, or all of them when it is None."""
        return sum(
            quantity
            for (a, i, s), (_, quantity) in self._positions.items()
            if a == account and i == instrument and (strategy is None or s == strategy)
        )

    def entry_count(self, account: str, *, since: datetime, scope: Scope) -> int:
        """How many entries ``entries`` lists, counted without listing them when the scope is
        the whole account."""
        if scope.strategy is None and scope.instrument is None:
            allowed = self._entries.get(account, [])
            return len(allowed) - bisect.bisect_left(allowed, since, key=_decided_at)
        return len(self.entries(account, since=since, scope=scope))

    def entries(self, account: str, *, since: datetime, scope: Scope) -> list[TradeDecided]:
        """The entries the gate allowed for ``account`` since ``since``, within ``scope``."""
        allowed = self._entries.get(account, [])
        start = bisect.bisect_left(allowed, since, key=_decided_at)
        return [d for d in allowed[start:] if _within(scope, d.strategy, d.instrument)]

    def last_bar(self, instrument: str, now: datetime) -> datetime | None:
        """When the instrument's newest bar closed, unless before ``BARS_LOOKBACK``."""
        last = self._last_bar.get(instrument)
        return last if last is not None and last >= now - BARS_LOOKBACK else None

    def bars(self, instrument: str, period: str | None, now: datetime) -> list[BarClosed]:
        """An instrument's bars of ``period`` (else of the period with the newest bar) closed
        within ``BARS_LOOKBACK`` of ``now``, oldest first."""
        if period is not None:
            kept = self._bars.get((instrument, period), [])
        else:
            series = [kept for (i, _), kept in self._bars.items() if i == instrument and kept]
            if not series:
                return []
            kept = max(series, key=_newest)
        start = bisect.bisect_left(kept, now - BARS_LOOKBACK, key=_closed_at)
        end = bisect.bisect_right(kept, now, key=_closed_at)
        return kept[start:end]

    def regime_at(self, instrument: str, moment: datetime) -> str | None:
        """The newest label of ``instrument`` in force at ``moment``."""
        series = self._regimes.get(instrument, [])
        index = bisect.bisect_right(series, moment, key=lambda item: item[0])
        return series[index - 1][2] if index else None

    def model(self, strategy: str, regime: str | None) -> CalibrationFitted | None:
        """The newest calibration of the strategy in ``regime``, else of all its signals."""
        return self._models.get((strategy, regime)) or self._models.get((strategy, None))

    def halts(self, now: datetime, today: date) -> list[Halt]:
        """The halts in force: not ended with their session, not resumed since."""
        return [
            halt
            for halt in self._halts.values()
            if (halt.trading_day is None or halt.trading_day >= today)
            and halt.since <= now
            and not any(_resumes(r, halt) for r in self._resumes)
        ]

    def resumed(self, scope: Scope, now: datetime) -> datetime | None:
        """When the latest resume covering ``scope`` was made, at or before ``now``."""
        times = [
            r.envelope.ts_event
            for r in self._resumes
            if r.envelope.ts_event <= now and _scope_of(r).covers(scope)
        ]
        return max(times) if times else None

    def realized(self, account: str) -> Decimal:
        """The net of all the account's trades, kept as they come and go."""
        return self._realized.get(account, Decimal(0))

    def remembered(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` until a trade or a regime label changes: for
        figures of all trades (a strategy's statistics for Kelly sizing)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def strategy_trades(self, strategy: str) -> Iterable[tuple[str, Closed]]:
        for account, trades in self._closed.items():
            for trade in trades:
                if trade.strategy == strategy:
                    yield account, trade


def _order(trade: Closed) -> tuple[datetime, str]:
    return trade.exit_time, trade.trade_id


def _exit(trade: Closed) -> datetime:
    return trade.exit_time


def _decided_at(decision: TradeDecided) -> datetime:
    return decision.envelope.ts_event


def _newest(bars: list[BarClosed]) -> tuple[datetime, str]:
    return bars[-1].envelope.ts_event, bars[-1].period


def _closed_at(bar: BarClosed) -> datetime:
    return bar.envelope.ts_event


def _within(scope: Scope, strategy: str | None, instrument: str) -> bool:
    return (scope.strategy is None or scope.strategy == strategy) and (
        scope.instrument is None or scope.instrument == instrument
    )


def _scope_of(change: GateChanged) -> Scope:
    return Scope(account=change.account, strategy=change.strategy, instrument=change.instrument)


def _resumes(resume: GateChanged, halt: Halt) -> bool:
    if resume.envelope.ts_event < halt.since:
        return False
    if resume.halt_id is not None:
        return resume.halt_id == halt.halt_id
    return _scope_of(resume).covers(halt.scope)
