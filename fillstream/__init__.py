"""fillstream: a NinjaTrader 8 trading operation as an event-sourced system."""

from core.errors import (
    CodecError,
    ConfigError,
    FillstreamError,
    InvalidEventError,
    InvalidEventsError,
    ServiceError,
)
from core.settings import Settings

__all__ = [
    "CodecError",
    "ConfigError",
    "FillstreamError",
    "InvalidEventError",
    "InvalidEventsError",
    "ServiceError",
    "Settings",
]
