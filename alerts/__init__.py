"""Delivering alerts: the channels (e-mail, webhooks, SMS, a live feed), the dispatcher that
retries each channel on its own, and the notifier process that follows ``derived.alerts``."""

from alerts.channels import Channel, channels_from_config
from alerts.dispatch import Backoff, Dispatcher, Outcome
from alerts.errors import DeliveryError
from alerts.feed import AlertFeed
from alerts.ledger import DeliveryLedger
from alerts.notifier import Notifier
from alerts.silences import Silences, matches, silence

__all__ = [
    "AlertFeed",
    "Backoff",
    "Channel",
    "DeliveryError",
    "DeliveryLedger",
    "Dispatcher",
    "Notifier",
    "Outcome",
    "Silences",
    "channels_from_config",
    "matches",
    "silence",
]
