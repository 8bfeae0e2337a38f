"""Errors of alert delivery; leaves of ``core.errors`` (settings are ``ConfigError``s)."""

from __future__ import annotations

from core.errors import FillstreamError


class DeliveryError(FillstreamError):
    """A channel could not deliver an alert; ``reason`` says why, without any secret."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel}: {reason}")
