"""fillstream: a NinjaTrader 8 trading operation as an event-sourced system."""

from fillstream.errors import (
    CodecError,
    ConfigError,
    FillstreamError,
    InvalidEventError,
    InvalidEventsError,
    ServiceError,
)
from fillstream.settings import Settings

__all__ = [
    "CodecError",
    "ConfigError",
    "FillstreamError",
    "InvalidEventError",
    "InvalidEventsError",
    "ServiceError",
    "Settings",
]
