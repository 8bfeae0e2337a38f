"""Materializing: migrations, projection definitions and the batch projector."""

from projections.migrate import migrate
from projections.performance import PERFORMANCE
from projections.projection import Location, Projection
from projections.trades import TRADES

PROJECTIONS: tuple[Projection, ...] = (TRADES, PERFORMANCE)
"""Every projection ``fillstream project`` runs."""

__all__ = ["PERFORMANCE", "PROJECTIONS", "TRADES", "Location", "Projection", "migrate"]
