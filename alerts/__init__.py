"""Delivering alerts: the channels (e-mail, webhooks, SMS, a live feed), the dispatcher that
retries each channel on its own, and the notifier process that follows ``derived.alerts``."""
