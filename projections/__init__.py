"""Materializing: migrations, projection definitions and the batch projector."""

from projections.alerts import ALERTS
from projections.decisions import DECISIONS
from projections.experiments import ASSIGNMENTS, SIGNALS
from projections.migrate import migrate
from projections.orders import EXECUTION_CORRECTIONS, EXECUTIONS, ORDERS
from projections.performance import PERFORMANCE
from projections.positions import MARKET_BARS, POSITIONS
from projections.projection import Location, Projection
from projections.reconciliation import POSITION_DRIFTS
from projections.regimes import REGIME_LABELS
from projections.trades import TRADES
from projections.uptime import SERVICE_CHECKS

PROJECTIONS: tuple[Projection, ...] = (
    TRADES,
    PERFORMANCE,
    POSITIONS,
    MARKET_BARS,
    EXECUTIONS,
    EXECUTION_CORRECTIONS,
    ORDERS,
    ALERTS,
    SERVICE_CHECKS,
    REGIME_LABELS,
    ASSIGNMENTS,
    SIGNALS,
    POSITION_DRIFTS,
    DECISIONS,
)
"""Every projection ``fillstream project`` runs."""

__all__ = [
    "ALERTS",
    "ASSIGNMENTS",
    "DECISIONS",
    "EXECUTIONS",
    "EXECUTION_CORRECTIONS",
    "MARKET_BARS",
    "ORDERS",
    "PERFORMANCE",
    "POSITIONS",
    "POSITION_DRIFTS",
    "PROJECTIONS",
    "REGIME_LABELS",
    "SERVICE_CHECKS",
    "SIGNALS",
    "TRADES",
    "Location",
    "Projection",
    "migrate",
]
