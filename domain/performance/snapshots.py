"""Performance snapshots: which scopes a trade counts in, and the events their windows become.

Every closed trade counts in the scopes it names: its account, its instrument on that account,
and when known its strategy on the account and that strategy's variant. Each scope keeps a
``Ledger``; after a new trade (or a revision of one), the scope publishes one
``PerformanceSnapshot`` per window the trade is in: all time, the trade's trading day (and the
day its earlier revision left), and the last N trades (``FILLSTREAM_ROLLING_TRADES``). A
revision counts in the scopes it names, as the first did: a correction changes a trade's
executions, not its account, instrument, strategy or variant.

A snapshot is the whole figure set, not a delta, and its id is derived from the scope, the
window, the definitions version and the set of trades it counts: the same trades always make the
same snapshot, with the same id, however they arrived. Money is rounded to 10 places (the Avro
scale); ratios are doubles; an undefined figure is null.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from domain.errors import EmptyWindowError
from domain.matching import PRODUCER
from domain.performance.figures import DEFINITIONS_VERSION
from domain.performance.ledger import Ledger, Window
from schemas.events import (
    Envelope,
    EventId,
    MetricScope,
    MetricWindow,
    PerformanceSnapshot,
    Source,
    TradeClosed,
)

_PLACES = Decimal("1E-10")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    kind: MetricScope
    key: str
    account: str
    strategy: str | None = None
    variant: str | None = None
    instrument: str | None = None

    @property
    def name(self) -> str:
        """``kind:key``: the scope's Kafka key and state key."""
        return f"{self.kind.value}:{self.key}"


def scopes_of(trade: TradeClosed) -> tuple[Scope, ...]:
    """The scopes ``trade`` counts in."""
    account, strategy = trade.account, trade.strategy
    scopes = [
        Scope(kind=MetricScope.ACCOUNT, key=account, account=account),
        Scope(
            kind=MetricScope.INSTRUMENT,
            key=f"{account}|{trade.instrument}",
            account=account,
            instrument=trade.instrument,
        ),
    ]
    if strategy is not None:
        scopes.append(
            Scope(
                kind=MetricScope.STRATEGY,
                key=f"{account}|{strategy}",
                account=account,
                strategy=strategy,
            )
        )
    if trade.variant is not None:
        scopes.append(
            Scope(
                kind=MetricScope.VARIANT,
                key=f"{account}|{strategy or ''}|{trade.variant}",
                account=account,
                strategy=strategy,
                variant=trade.variant,
            )
        )
    return tuple(scopes)


def snapshots(
    scope: Scope,
    ledger: Ledger,
    days: Iterable[date],
    *,
    rolling: int,
    at: datetime | None = None,
) -> list[PerformanceSnapshot]:
    """The snapshots of ``scope``'s windows that changed trades changed: all time, the trading
    ``days`` they closed on, and the last ``rolling`` trades. A window a void left without a
    trade gets a snapshot of no trades, happening ``at`` (the time of the change)."""
    n, capital = ledger.changes, ledger.capital
    return [
        snapshot(scope, MetricWindow.ALL_TIME, "", ledger.all_time(), n, capital, at),
        *(
            snapshot(
                scope, MetricWindow.TRADING_DAY, day.isoformat(), ledger.day(day), n, capital, at
            )
            for day in sorted(days)
        ),
        snapshot(
            scope, MetricWindow.LAST_TRADES, str(rolling), ledger.last(rolling), n, capital, at
        ),
    ]


def snapshot_id(
    scope: Scope,
    window: MetricWindow,
    window_key: str,
    of: Window,
    capital: Decimal | None = None,
) -> str:
    """Derived from what the figures depend on: the scope, the window, the definitions, the set
    of trades and the starting capital (when there is one)."""
    text = "|".join((scope.name, window.value, window_key, str(DEFINITIONS_VERSION), str(of.count)))
    text += f"|{of.digest:032x}"
    if capital is not None:
        text += f"|capital={capital.normalize()}"
    return "ps-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def snapshot(
    scope: Scope,
    window: MetricWindow,
    window_key: str,
    of: Window,
    scope_trades: int,
    capital: Decimal | None = None,
    at: datetime | None = None,
) -> PerformanceSnapshot:
    """The event of one window's figures; a window without a trade needs ``at``, when it was
    left empty."""
    latest = of.latest
    if latest is None and at is None:
        raise EmptyWindowError(f"{scope.name} {window.value} {window_key}")
    happened = latest.exit_time if latest is not None else at
    assert happened is not None
    p = of.performance
    sid = snapshot_id(scope, window, window_key, of, capital)
    return PerformanceSnapshot(
        envelope=Envelope(
            event_id=EventId(sid),
            ts_event=happened,
            ts_ingested=of.ts_ingested or happened,
            # after an imported trade, the figures are history's: alerts on them are not sent
            source=Source.IMPORT if latest is not None and latest.imported else Source.UNKNOWN,
            producer=PRODUCER,
            causation_ids=() if latest is None else (latest.trade_id,),
        ),
        snapshot_id=sid,
        scope=scope.kind,
        scope_key=scope.key,
        account=scope.account,
        strategy=scope.strategy,
        variant=scope.variant,
        instrument=scope.instrument,
        window=window,
        window_key=window_key,
        definitions_version=p.definitions_version,
        scope_trades=scope_trades,
        currency=of.currency,
        as_of_trade_id=None if latest is None else latest.trade_id,
        trades=p.trades,
        wins=p.wins,
        losses=p.losses,
        breakevens=p.breakevens,
        win_rate=p.win_rate,
        nt_percent_profitable=p.nt_percent_profitable,
        gross_profit=money(p.gross_profit),
        gross_loss=money(p.gross_loss),
        net_profit=money(p.net_profit),
        avg_win=maybe_money(p.avg_win),
        avg_loss=maybe_money(p.avg_loss),
        payoff_ratio=p.payoff_ratio,
        profit_factor=p.profit_factor,
        expectancy=maybe_money(p.expectancy),
        max_drawdown=money(p.max_drawdown),
        max_drawdown_pct=p.max_drawdown_pct,
        current_drawdown=money(p.current_drawdown),
        recovery_factor=p.recovery_factor,
        trading_days=p.trading_days,
        sharpe=p.sharpe,
        sortino=p.sortino,
        nt_sharpe_monthly=p.nt_sharpe_monthly,
        sqn=p.sqn,
        sqn_basis=p.sqn_basis.value,
        avg_r=p.avg_r,
        longest_win_streak=p.longest_win_streak,
        longest_loss_streak=p.longest_loss_streak,
        current_win_streak=p.current_win_streak,
        current_loss_streak=p.current_loss_streak,
        avg_mae=maybe_money(p.avg_mae),
        avg_mfe=maybe_money(p.avg_mfe),
        avg_etd=maybe_money(p.avg_etd),
        entry_efficiency=p.entry_efficiency,
        exit_efficiency=p.exit_efficiency,
        total_efficiency=p.total_efficiency,
        first_exit=p.first_exit,
        last_exit=p.last_exit,
    )


def money(value: Decimal) -> Decimal:
    """``value`` at the events' scale (10 places), rounded half to even."""
    return value.quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def maybe_money(value: Decimal | None) -> Decimal | None:
    return None if value is None else money(value)
