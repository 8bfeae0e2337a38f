"""Historical import: NinjaTrader 8 grid exports (CSV) → events, and reconciliation.

Pure parsing (``formats``, ``grid``, ``executions``, ``trades``) and comparison (``reconcile``)
are separate from the Kafka edge (``kafka``) and the command (``fillstream.commands.imports``).
"""

from bridge.imports.executions import PRODUCER, parse_executions
from bridge.imports.formats import (
    DateOrder,
    detect_date_order,
    detect_decimal_mark,
    parse_money,
    parse_time,
)
from bridge.imports.grid import ImportResult, RejectedRow
from bridge.imports.reconcile import (
    DerivedTrades,
    Mismatch,
    Reconciliation,
    derive_trades,
    reconcile,
)
from bridge.imports.trades import parse_trades, trade_event_id, with_event_ids

__all__ = [
    "PRODUCER",
    "DateOrder",
    "DerivedTrades",
    "ImportResult",
    "Mismatch",
    "Reconciliation",
    "RejectedRow",
    "derive_trades",
    "detect_date_order",
    "detect_decimal_mark",
    "parse_executions",
    "parse_money",
    "parse_time",
    "parse_trades",
    "reconcile",
    "trade_event_id",
    "with_event_ids",
]
