"""Getting NinjaTrader activity in: JSON validation, the ingest server and the Kafka publisher."""

from bridge.parsing import EVENT_CLASSES, parse_event, parse_events

__all__ = ["EVENT_CLASSES", "parse_event", "parse_events"]
