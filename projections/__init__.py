"""Materializing: migrations, projection definitions and the batch projector."""

from projections.migrate import migrate
from projections.projection import Location, Projection
from projections.trades import PROJECTIONS, TRADES

__all__ = ["PROJECTIONS", "TRADES", "Location", "Projection", "migrate"]
