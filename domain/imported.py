"""Trades of NinjaTrader's Trades exports made first-class, and counted once. Pure.

A ``TradeReported`` (a row of a Trades export, ``raw.nt-trades``) becomes a ``TradeClosed`` with
source ``import`` (``imported_trade``): NinjaTrader's prices, times, Profit as the net P&L (the
grid's ``Cum. net profit`` is the running sum of Profit; see ``bridge.imports.reconcile``), the
gross P&L as Profit plus the commission and fees, and its own MAE, MFE and ETD. Its trade id
comes from the row's event id, which depends on the row's content and its occurrence among
identical rows of the file, so importing the same export again makes the same trades.

A trade known both ways counts once, and the one derived from executions wins. Trades are
grouped by their ``fingerprint``: account, instrument, direction, quantity, and entry and exit
time to the second (how the import's reconciliation pairs them). In a ``Group``, the first
imported trades in trade-id order, as many as there are derived trades, are *covered*: published
voided, ``covered_by`` naming the derived trade (paired in trade-id order too). The others count.
When the derived side changes (a trade derived later, a correction voiding one or moving it to
other times), the imported trades take the next revision that covers or uncovers them. A covered
pair whose prices or net P&L differ is reported as a ``Difference``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.events import (
    Direction,
    Envelope,
    EventId,
    Source,
    TradeClosed,
    TradeId,
    TradeReported,
)

IMPORTED_PREFIX = "nt:"
"""Imported trades' ids: this, then the reported row's event id without its ``nt-``."""
PRODUCER = "fillstream-imported-trades/0.1.0"


def fingerprint(
    account: str,
    instrument: str,
    direction: Direction,
    quantity: int,
    entry_time: datetime,
    exit_time: datetime,
) -> str:
    """What a trade is recognised by on both sides (times to the second)."""
    return "|".join(
        (
            account,
            instrument,
            direction.value,
            str(quantity),
            entry_time.replace(microsecond=0).isoformat(),
            exit_time.replace(microsecond=0).isoformat(),
        )
    )


def fingerprint_of(trade: TradeClosed) -> str:
    return fingerprint(trade.account, trade.instrument, trade.direction, trade.quantity,
                       trade.entry_time, trade.exit_time)  # fmt: skip


def imported_trade(reported: TradeReported, point_value: Decimal) -> TradeClosed:
    """The ``TradeClosed`` (source ``import``, revision 0) of a reported trade."""
    trade_id = IMPORTED_PREFIX + reported.envelope.event_id.removeprefix("nt-")
    fees = reported.fees
    return TradeClosed(
        envelope=Envelope(
            event_id=EventId(f"{trade_id}@0"),
            ts_event=reported.exit_time,
            ts_ingested=reported.envelope.ts_ingested,
            source=Source.IMPORT,
            producer=PRODUCER,
            causation_ids=(reported.envelope.event_id,),
        ),
        trade_id=TradeId(trade_id),
        account=reported.account,
        instrument=reported.instrument,
        strategy=reported.strategy,
        direction=reported.direction,
        quantity=reported.quantity,
        entry_time=reported.entry_time,
        exit_time=reported.exit_time,
        entry_price=reported.entry_price,
        exit_price=reported.exit_price,
        point_value=point_value,
        currency=reported.currency,
        gross_pnl=reported.profit + reported.commission + fees,
        commission=reported.commission,
        fees=fees,
        net_pnl=reported.profit,
        mae=reported.mae,
        mfe=reported.mfe,
        etd=reported.etd,
        entry_name=reported.entry_name,
        exit_name=reported.exit_name,
        execution_ids=(),
        duration_micros=(reported.exit_time - reported.entry_time) // timedelta(microseconds=1),
    )


@dataclass(frozen=True, slots=True)
class Derived:
    """What a covered pair is compared on, of a trade derived from executions."""

    trade_id: str
    entry_price: Decimal
    exit_price: Decimal
    net_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Difference:
    """A covered imported trade that does not agree with the derived trade covering it."""

    imported: str
    derived: str
    field: str
    reported: Decimal
    ours: Decimal


@dataclass(frozen=True, slots=True)
class Group:
    """The trades of one fingerprint: derived ones by id, and each imported one's latest
    revision published (or about to be)."""

    derived: Mapping[str, Derived] = field(default_factory=dict)
    imported: Mapping[str, TradeClosed] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settled:
    group: Group
    published: tuple[TradeClosed, ...] = ()
    differences: tuple[Difference, ...] = ()


def derived_of(trade: TradeClosed) -> Derived:
    return Derived(trade.trade_id, trade.entry_price, trade.exit_price, trade.net_pnl)


def with_reported(group: Group, trade: TradeClosed) -> Settled:
    """``group`` with a new imported trade (revision 0); one it has already is not new (the same
    export imported again): nothing is published."""
    if trade.trade_id in group.imported:
        return Settled(group)
    return _settle(Group(group.derived, {**group.imported, trade.trade_id: trade}), trade.trade_id)


def with_derived(group: Group, trade: Derived) -> Settled:
    if group.derived.get(trade.trade_id) == trade:
        return Settled(group)
    return _settle(Group({**group.derived, trade.trade_id: trade}, group.imported))


def without_derived(group: Group, trade_id: str) -> Settled:
    if trade_id not in group.derived:
        return Settled(group)
    derived = {k: v for k, v in group.derived.items() if k != trade_id}
    return _settle(Group(derived, group.imported))


def _settle(group: Group, fresh: str | None = None) -> Settled:
    """Cover the first imported trades by the derived ones, both in id order; ``fresh`` is an
    imported trade not published yet (settled in its revision 0)."""
    derived = sorted(group.derived)
    imported = dict(group.imported)
    published: list[TradeClosed] = []
    differences: list[Difference] = []
    for k, trade_id in enumerate(sorted(imported)):
        current = imported[trade_id]
        cover = derived[k] if k < len(derived) else None
        if cover is not None:
            differences.extend(_compare(current, group.derived[cover]))
        if trade_id == fresh:
            settled = replace(current, voided=cover is not None, covered_by=cover)
        elif current.covered_by == cover and current.voided == (cover is not None):
            continue
        else:
            settled = _revised(current, cover)
        imported[trade_id] = settled
        published.append(settled)
    fresh_differences = tuple(d for d in differences if _changed(d, group, fresh))
    return Settled(Group(group.derived, imported), tuple(published), fresh_differences)


def _changed(difference: Difference, group: Group, fresh: str | None) -> bool:
    """Report a difference when its pair is new: the imported trade fresh, or covered now by
    another derived trade than before."""
    known = group.imported[difference.imported]
    return difference.imported == fresh or known.covered_by != difference.derived


def _revised(trade: TradeClosed, cover: str | None) -> TradeClosed:
    revision = trade.revision + 1
    return replace(
        trade,
        envelope=replace(trade.envelope, event_id=EventId(f"{trade.trade_id}@{revision}")),
        revision=revision,
        supersedes=trade.envelope.event_id,
        voided=cover is not None,
        covered_by=cover,
    )


def _compare(imported: TradeClosed, derived: Derived) -> list[Difference]:
    pairs = (
        ("entry_price", imported.entry_price, derived.entry_price),
        ("exit_price", imported.exit_price, derived.exit_price),
        ("net_pnl", imported.net_pnl, derived.net_pnl),
    )
    return [
        Difference(imported.trade_id, derived.trade_id, name, reported, ours)
        for name, reported, ours in pairs
        if reported != ours
    ]
