"""Our trades, derived from imported executions, against the trades NinjaTrader reported. Pure.

Executions become trades exactly as the stream worker makes them (``domain.matching.apply``:
FIFO per account, instrument and strategy, in time order; executions with the same time keep
their input order). Each derived trade is paired with the Trades-grid row of the same account,
instrument, direction, quantity, entry time and exit time (to the second); among several such
rows, one with the same entry and exit prices first, then the earliest in the grid. Each pair is
compared, to the cent:

- ``Entry price``, ``Exit price``: the prices, exactly.
- ``Profit``: our **net** P&L (``TradeClosed.net_pnl``: points × quantity × the contract's point
  value from ``domain.contracts`` or the log's definitions, minus the commission and fees
  allocated to the trade) against NinjaTrader's Profit. Gross or net cannot be told from the
  real exports at hand: every Commission and fee cell in them is $0.00. Net is the reading
  consistent with the grid itself, whose ``Cum. net profit`` is the running sum of ``Profit``
  (true to the cent in both real samples). Should NinjaTrader's Profit turn out to be gross, a
  Profit mismatch of exactly the trade's commission will show it.
- ``Commission``: our commission plus fees against NinjaTrader's Commission plus fee columns.
- ``Cum. net profit``: NinjaTrader sums Profit down the grid, across every account in it. Ours is
  the running sum of our net P&L over the paired trades in the same grid order, compared on each
  paired row that has the column. A row without a partner adds to their sum and not to ours, so
  every later row then differs as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from domain.contracts import ContractBook
from domain.errors import UnknownInstrumentError
from domain.matching import Book, apply, position_key
from schemas.events import Direction, ExecutionReported, TradeClosed, TradeId, TradeReported

_CENT = Decimal("0.01")

_Key = tuple[str, str, Direction, int, datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedTrades:
    """What matching the executions gave: trades in exit-time order, and what stayed open."""

    trades: tuple[TradeClosed, ...]
    open_positions: tuple[tuple[str, int], ...]
    """``(account|instrument|strategy, signed quantity)`` of every position not flat at the end."""
    unknown_instruments: tuple[str, ...]
    """Instruments without a contract specification; their executions were not matched."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    """One column of one paired trade where ours and NinjaTrader's differ."""

    trade_number: int
    account: str
    instrument: str
    column: str
    ours: Decimal
    theirs: Decimal
    trade_id: TradeId

    def __str__(self) -> str:
        return (
            f"trade {self.trade_number} ({self.account} {self.instrument}) {self.column}: "
            f"ours {self.ours}, NinjaTrader {self.theirs}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciliation:
    matched: int
    mismatches: tuple[Mismatch, ...]
    unmatched_ours: tuple[TradeClosed, ...]
    """Derived trades no NinjaTrader row pairs with."""
    unmatched_theirs: tuple[TradeReported, ...]
    """NinjaTrader rows no derived trade pairs with."""
    open_positions: tuple[tuple[str, int], ...]
    unknown_instruments: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Every trade paired, every compared column equal, every instrument known."""
        return not (
            self.mismatches
            or self.unmatched_ours
            or self.unmatched_theirs
            or self.unknown_instruments
        )


def derive_trades(
    executions: Iterable[ExecutionReported], contracts: ContractBook | None = None
) -> DerivedTrades:
    """Match executions into trades per position key, in time order (ties keep input order),
    valued with ``contracts`` (the built-in table unless given the log's definitions too)."""
    contracts = contracts if contracts is not None else ContractBook()
    books: dict[str, Book] = defaultdict(Book)
    trades: list[TradeClosed] = []
    unknown: set[str] = set()
    for execution in sorted(executions, key=lambda e: e.envelope.ts_event):
        try:
            spec = contracts.spec_for(execution.instrument)
        except UnknownInstrumentError:
            unknown.add(execution.instrument)
            continue
        key = position_key(execution)
        books[key], closed = apply(books[key], execution, spec)
        trades += closed
    trades.sort(key=lambda t: (t.exit_time, t.entry_time))
    return DerivedTrades(
        trades=tuple(trades),
        open_positions=tuple((k, b.position) for k, b in books.items() if not b.is_flat),
        unknown_instruments=tuple(sorted(unknown)),
    )


def reconcile(
    executions: Iterable[ExecutionReported],
    reported: Sequence[TradeReported],
    contracts: ContractBook | None = None,
) -> Reconciliation:
    """Derive trades from ``executions`` and compare them with ``reported``, the rows of a
    NinjaTrader Trades export in grid order (see the module docstring for what is compared)."""
    derived = derive_trades(executions, contracts)
    candidates: dict[_Key, list[int]] = defaultdict(list)
    for index, row in enumerate(reported):
        candidates[_reported_key(row)].append(index)
    partner: dict[int, TradeClosed] = {}
    unmatched_ours: list[TradeClosed] = []
    for trade in derived.trades:
        rows = candidates.get(_derived_key(trade), [])
        if not rows:
            unmatched_ours.append(trade)
            continue
        same_prices = [i for i in rows if _same_prices(trade, reported[i])]
        index = (same_prices or rows)[0]
        rows.remove(index)
        partner[index] = trade
    mismatches: list[Mismatch] = []
    cumulative = Decimal(0)
    for index, row in enumerate(reported):
        paired = partner.get(index)
        if paired is not None:
            cumulative += paired.net_pnl
            mismatches += _compare(paired, row, cumulative)
    return Reconciliation(
        matched=len(partner),
        mismatches=tuple(mismatches),
        unmatched_ours=tuple(unmatched_ours),
        unmatched_theirs=tuple(row for i, row in enumerate(reported) if i not in partner),
        open_positions=derived.open_positions,
        unknown_instruments=derived.unknown_instruments,
    )


def _compare(trade: TradeClosed, row: TradeReported, cumulative: Decimal) -> list[Mismatch]:
    pairs = [
        ("Entry price", trade.entry_price, row.entry_price),
        ("Exit price", trade.exit_price, row.exit_price),
        ("Profit", _cents(trade.net_pnl), _cents(row.profit)),
        (
            "Commission",
            _cents(trade.commission + (trade.fees or 0)),
            _cents(row.commission + row.fees),
        ),
    ]
    if row.cum_net_profit is not None:
        pairs.append(("Cum. net profit", _cents(cumulative), _cents(row.cum_net_profit)))
    return [
        Mismatch(
            trade_number=row.trade_number,
            account=row.account,
            instrument=row.instrument,
            column=column,
            ours=ours,
            theirs=theirs,
            trade_id=trade.trade_id,
        )
        for column, ours, theirs in pairs
        if ours != theirs
    ]


def _derived_key(trade: TradeClosed) -> _Key:
    return (
        trade.account,
        trade.instrument,
        trade.direction,
        trade.quantity,
        _second(trade.entry_time),
        _second(trade.exit_time),
    )


def _reported_key(row: TradeReported) -> _Key:
    return (
        row.account,
        row.instrument,
        row.direction,
        row.quantity,
        _second(row.entry_time),
        _second(row.exit_time),
    )


def _same_prices(trade: TradeClosed, row: TradeReported) -> bool:
    return trade.entry_price == row.entry_price and trade.exit_price == row.exit_price


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
