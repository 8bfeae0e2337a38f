"""The topic catalog (``topics.toml``): every topic's name, schemas, partitions and retention,
and the headers every record carries. Creating the topics is ``core.kafka.ensure_topics``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

# the catalog's topic names (topics.toml), for code to name a topic by a constant
RAW_EXECUTIONS = "raw.executions"
RAW_ORDERS = "raw.orders"
RAW_POSITIONS = "raw.positions"
RAW_SIGNALS = "raw.signals"
RAW_MARKET = "raw.market"
RAW_HEARTBEATS = "raw.heartbeats"
RAW_NT_TRADES = "raw.nt-trades"
DERIVED_TRADES = "derived.trades"
DERIVED_POSITIONS = "derived.positions"
DERIVED_PERFORMANCE = "derived.performance"
STREAMS_PERFORMANCE_SCOPES = "streams-performance-scopes"
STREAMS_LEDGERS_CHANGELOG = "streams-ledgers-changelog"
STREAMS_BOOKS_CHANGELOG = "streams-books-changelog"
DERIVED_REGIMES = "derived.regimes"
STREAMS_REGIMES_CHANGELOG = "streams-regimes-changelog"
STREAMS_PAPER_FEED = "streams-paper-feed"
STREAMS_PAPER_CHANGELOG = "streams-paper-changelog"
CONTROL_EXPERIMENTS = "control.experiments"
RAW_ASSIGNMENTS = "raw.assignments"
CONTROL_PHASES = "control.phases"
HEALTH = "health"
DERIVED_ALERTS = "derived.alerts"
STREAMS_ALERTS_PERFORMANCE_CHANGELOG = "streams-alerts-performance-changelog"
STREAMS_ALERTS_HEALTH_CHANGELOG = "streams-alerts-health-changelog"
CONTROL_SILENCES = "control.silences"
RAW_INSTRUMENTS = "raw.instruments"
DERIVED_RECONCILIATION = "derived.reconciliation"
STREAMS_RECONCILIATION_FEED = "streams-reconciliation-feed"
STREAMS_RECONCILIATION_CHANGELOG = "streams-reconciliation-changelog"
STREAMS_ALERTS_RECONCILIATION_CHANGELOG = "streams-alerts-reconciliation-changelog"
STREAMS_IMPORTED_FEED = "streams-imported-feed"
STREAMS_IMPORTED_CHANGELOG = "streams-imported-changelog"
DERIVED_DECISIONS = "derived.decisions"
CONTROL_GATE = "control.gate"
DERIVED_CALIBRATION = "derived.calibration"
CONTROL_BASELINES = "control.baselines"
DEAD_LETTER = "dead-letter"


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSpec:
    name: str
    value: str
    key: str
    partitions: int
    replication_factor: int
    retention_ms: int
    cleanup_policy: str
    description: str

    @property
    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


def load_catalog() -> dict[str, TopicSpec]:
    """Topic specs by catalog name (``raw.executions``), in file order."""
    text = resources.files("schemas").joinpath("topics.toml").read_text()
    doc = tomllib.loads(text)
    defaults = doc.get("defaults", {})
    return {
        name: TopicSpec(
            name=name,
            value=entry["value"],
            key=entry["key"],
            partitions=int(entry.get("partitions", defaults.get("partitions", 3))),
            replication_factor=int(
                entry.get("replication_factor", defaults.get("replication_factor", 1))
            ),
            retention_ms=int(entry["retention_ms"]),
            cleanup_policy=entry["cleanup_policy"],
            description=entry["description"],
        )
        for name, entry in doc["topics"].items()
    }


def record_headers(schema: str, event_id: str) -> tuple[tuple[str, bytes], ...]:
    """The headers of an event's Kafka record: its Avro full name and its event id."""
    return (("schema", schema.encode()), ("event_id", event_id.encode()))
