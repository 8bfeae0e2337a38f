"""The alert stages: the rules of ``FILLSTREAM_ALERT_RULES`` over performance snapshots, over
health checks and over position drifts, raising and resolving alerts on ``derived.alerts``.

Three ``streams.runtime.deriver`` stages, one per topic read, each keeping an ``AlertBook`` per
source partition. What a batch changes in a book is written to the stage's changelog (one record
per rule and key: what is raised since when, and what the rule remembers; a tombstone once neither)
in the same transaction as the alerts, so a restart neither raises an alert twice nor forgets
one. A record that does not decode goes to the dead-letter topic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from prometheus_client import Counter

from core.config_files import load_file
from core.settings import Settings
from domain.alerts.engine import AlertBook, Raised
from domain.alerts.rules import EMPTY, Rule, RuleSet, parse_rules
from schemas.catalog import (
    DERIVED_ALERTS,
    DERIVED_PERFORMANCE,
    DERIVED_RECONCILIATION,
    HEALTH,
    STREAMS_ALERTS_HEALTH_CHANGELOG,
    STREAMS_ALERTS_PERFORMANCE_CHANGELOG,
    STREAMS_ALERTS_RECONCILIATION_CHANGELOG,
    record_headers,
)
from schemas.codec import Codec
from schemas.events import PerformanceSnapshot, PositionDrift, ServiceChecked, schema_name
from streams.runtime import metrics
from streams.runtime.deriver import Batch, Output, Record, decoded

ALERTS_TOPIC = DERIVED_ALERTS

ALERTS = Counter(
    "fillstream_stream_alerts_total",
    "Alerts raised and resolved by the alert rules, by rule and state.",
    ["rule", "state"],
)


class AlertStage:
    """Evaluates the rules that read ``source``; see the module docstring."""

    name: str
    source: str
    changelog: str | None
    reads: ClassVar[type[PerformanceSnapshot] | type[ServiceChecked] | type[PositionDrift]]

    def __init__(self, codec: Codec, rules: RuleSet) -> None:
        self.codec = codec
        self.rules = rules
        self.books: dict[int, AlertBook] = {}
        self.idle = not any(self.evaluates(rule) for rule in rules.rules)
        """No rule reads this stage's topic: records are passed over without decoding (an alert
        still raised from an earlier rules file is resolved by the next evaluation once a rule
        reads the topic again)."""

    def evaluates(self, rule: Rule) -> bool:
        """Whether ``rule`` reads this stage's topic."""
        if self.reads is PerformanceSnapshot:
            return rule.performance
        if self.reads is PositionDrift:
            return rule.reconciliation
        return rule.health

    @classmethod
    def from_settings(cls, settings: Settings, codec: Codec) -> AlertStage:
        rules = (
            load_file(settings.alert_rules, "FILLSTREAM_ALERT_RULES", parse_rules)
            if settings.alert_rules
            else EMPTY
        )
        return cls(codec, rules)

    def restore(self, partition: int, records: Iterable[Record]) -> None:
        book = AlertBook()
        for record in records:
            if record.value is None or record.key is None:
                continue
            rule, _, key = record.key.decode().partition("|")
            kept = json.loads(record.value)
            if kept.get("raised"):
                raised = kept["raised"]
                book.raised[(rule, key)] = Raised(
                    datetime.fromisoformat(raised["at"]), dict(raised["labels"])
                )
            if kept.get("memory") is not None:
                book.memory[(rule, key)] = kept["memory"]
        self.books[partition] = book

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self.books.pop(partition, None)

    def process(self, records: Sequence[Record], batch: Batch) -> None:
        if self.idle and not any(book.raised for book in self.books.values()):
            if records:
                metrics.EVENTS.labels(records[0].topic, "passed").inc(len(records))
            return
        for record in records:
            event = decoded(self.codec, record, self.reads, batch, f"streams.{self.name}")
            if event is None:
                continue
            book = self.books.setdefault(record.partition, AlertBook())
            for alert in book.apply(self.rules, event):
                batch.outputs.append(
                    Output(
                        ALERTS_TOPIC,
                        f"{alert.rule}|{alert.key}".encode(),
                        self.codec.encode(alert),
                        record_headers(schema_name(alert), alert.envelope.event_id),
                    )
                )
                ALERTS.labels(alert.rule, alert.state.value).inc()
        if records:
            metrics.EVENTS.labels(records[0].topic, "evaluated").inc(len(records))
        for partition, book in self.books.items():
            for rule, key in sorted(book.changed):
                batch.outputs.append(
                    Output(
                        self.changelog or "",
                        f"{rule}|{key}".encode(),
                        _kept(book, rule, key),
                        partition=partition,
                    )
                )
            book.changed.clear()


class AlertOnPerformance(AlertStage):
    name = "alerts-performance"
    source = DERIVED_PERFORMANCE
    changelog = STREAMS_ALERTS_PERFORMANCE_CHANGELOG
    reads = PerformanceSnapshot


class AlertOnHealth(AlertStage):
    name = "alerts-health"
    source = HEALTH
    changelog = STREAMS_ALERTS_HEALTH_CHANGELOG
    reads = ServiceChecked


class AlertOnReconciliation(AlertStage):
    name = "alerts-reconciliation"
    source = DERIVED_RECONCILIATION
    changelog = STREAMS_ALERTS_RECONCILIATION_CHANGELOG
    reads = PositionDrift


def _kept(book: AlertBook, rule: str, key: str) -> bytes | None:
    """The changelog value of one rule and key: None (a tombstone) once nothing is kept."""
    raised, memory = book.raised.get((rule, key)), book.memory.get((rule, key))
    if raised is None and memory is None:
        return None
    kept: dict[str, Any] = {"memory": memory}
    if raised is not None:
        kept["raised"] = {"at": raised.raised_at.isoformat(), "labels": raised.labels}
    return json.dumps(kept, sort_keys=True).encode()
