"""The performance projection: the latest ``PerformanceSnapshot`` per scope and window, behind the
``performance`` view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.projection import Location, Projection
from schemas.catalog import DERIVED_PERFORMANCE
from schemas.events import Event, PerformanceSnapshot

_FIGURES = (
    "trades", "wins", "losses", "breakevens", "win_rate", "nt_percent_profitable",
    "gross_profit", "gross_loss", "net_profit", "avg_win", "avg_loss", "payoff_ratio",
    "profit_factor", "expectancy", "max_drawdown", "max_drawdown_pct", "current_drawdown",
    "recovery_factor", "trading_days", "sharpe", "sortino", "nt_sharpe_monthly", "sqn",
    "sqn_basis", "avg_r", "longest_win_streak", "longest_loss_streak", "avg_mae", "avg_mfe",
    "avg_etd", "entry_efficiency", "exit_efficiency", "total_efficiency", "first_exit",
    "last_exit",
)  # fmt: skip
"""Columns named and filled like the snapshot's fields (money without Avro's trailing zeros)."""


def performance_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, PerformanceSnapshot):
        return ()
    figures = [getattr(event, name) for name in _FIGURES]
    return (
        (
            event.scope.value,
            event.scope_key,
            event.window.value,
            event.window_key,
            event.definitions_version,
            event.account,
            event.strategy,
            event.variant,
            event.instrument,
            event.scope_trades,
            event.currency,
            event.as_of_trade_id,
            *figures,
            event.snapshot_id,
            where.topic,
            where.partition,
            where.offset,
            event.envelope.ts_ingested,
        ),
    )


PERFORMANCE = Projection(
    name="performance",
    topics=(DERIVED_PERFORMANCE,),
    columns=(
        "scope",
        "scope_key",
        "time_window",
        "window_key",
        "definitions_version",
        "account",
        "strategy",
        "variant",
        "instrument",
        "scope_trades",
        "currency",
        "as_of_trade_id",
        *_FIGURES,
        "snapshot_id",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
    ),
    key=("scope", "scope_key", "time_window", "window_key", "definitions_version"),
    to_rows=performance_rows,
    newer_by="scope_trades",
    supersedes_header="supersedes",
)
