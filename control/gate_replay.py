"""Deciding the gate's logged decisions again from the log: ``fillstream gate replay``.

Each ``TradeDecided`` records, per ``topic:partition`` the gate followed, the next offset it had
not read (``as_of``). The replay reads those topics up to their ends now and folds them into a
fresh ``GateState``, each partition only up to the offsets the next decision names, with every
earlier decision of ``derived.decisions`` applied as it was made; then it decides the decision's
proposal again at its time, with the rules of its version (the text ``control.gate`` logged, and
the blackout files as they are now, which must give the same version), and compares the two whole.
The state's parts are kept in a canonical order (``domain.gate.state``), so folding the
partitions one after another gives what following them side by side gave.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from bridge.gate import FOLLOWED
from bridge.gate_config import rules_of
from core.errors import ConfigError, ServiceError
from core.kafka import watermarks
from core.settings import Settings
from domain.gate import GateRulesError, GateState, Proposal, Rules, decide
from domain.gate.state import GateEvent
from schemas.catalog import CONTROL_GATE, DERIVED_DECISIONS
from schemas.codec import Codec
from schemas.events import GateAction, GateChanged, TradeDecided

_WAIT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    decision_id: str
    signal_id: str
    recorded: TradeDecided
    replayed: TradeDecided | None
    reason: str


@dataclass(slots=True, kw_only=True)
class ReplayReport:
    decisions: int = 0
    same: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Decisions not replayed, by why (their rules version not logged, the files changed)."""


def replay(
    settings: Settings,
    codec: Codec,
    *,
    rules_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Decide every logged decision again; ``rules_dir`` resolves blackout files (default the
    folder of ``FILLSTREAM_GATE_RULES``)."""
    folder = rules_dir or (settings.gate_rules.parent if settings.gate_rules else Path.cwd())
    records = {topic: _read(settings, codec, topic) for topic in FOLLOWED}
    decisions = [e for _, _, e in records.pop(DERIVED_DECISIONS) if isinstance(e, TradeDecided)]
    texts = {
        e.rules_version: e.rules_text or ""
        for _, _, e in records[CONTROL_GATE]
        if isinstance(e, GateChanged) and e.action is GateAction.CONFIGURED and e.rules_version
    }
    versions: dict[str, Rules | str] = {Rules().version: Rules()}
    cursors = {
        (topic, partition): _Cursor(items)
        for topic, events in records.items()
        for partition, items in _by_partition(events)
    }
    state = GateState()
    report = ReplayReport()
    for n, recorded in enumerate(decisions, start=1):
        report.decisions += 1
        for (topic, partition), cursor in cursors.items():
            for event in cursor.until(recorded.as_of.get(f"{topic}:{partition}", 0)):
                state.apply(event)
        rules = versions.get(recorded.rules_version)
        if rules is None:
            rules = _rules(texts.get(recorded.rules_version), recorded.rules_version, folder)
            versions[recorded.rules_version] = rules
        if isinstance(rules, str):
            report.skipped[rules] = report.skipped.get(rules, 0) + 1
        else:
            again = decide(
                proposal_of(recorded),
                rules=rules,
                state=state,
                envelope=recorded.envelope,
                decision_id=recorded.decision_id,
                as_of=recorded.as_of,
            )
            if again == recorded:
                report.same += 1
            else:
                mismatch = Mismatch(
                    decision_id=recorded.decision_id,
                    signal_id=recorded.signal_id,
                    recorded=recorded,
                    replayed=again,
                    reason=_difference(recorded, again),
                )
                report.mismatches.append(mismatch)
        state.apply(recorded)
        if progress is not None:
            progress(n, len(decisions))
    return report


class _Cursor:
    """A partition's records, handed out up to an offset."""

    def __init__(self, records: list[tuple[int, GateEvent]]) -> None:
        self._records = records
        self._next = 0

    def until(self, end: int) -> Iterator[GateEvent]:
        while self._next < len(self._records) and self._records[self._next][0] < end:
            yield self._records[self._next][1]
            self._next += 1


def proposal_of(decision: TradeDecided) -> Proposal:
    return Proposal(
        signal_id=decision.signal_id,
        account=decision.account,
        instrument=decision.instrument,
        strategy=decision.strategy,
        variant=decision.variant,
        direction=decision.direction,
        entry_price=decision.entry_price,
        intended_stop=decision.intended_stop,
        intended_target=decision.intended_target,
        confidence=decision.confidence,
        quantity=decision.proposed_quantity,
    )


def _rules(text: str | None, version: str, folder: Path) -> Rules | str:
    if text is None:
        return f"rules version {version} was never logged on control.gate"
    try:
        rules = rules_of(tomllib.loads(text), text, folder)
    except (GateRulesError, tomllib.TOMLDecodeError) as e:
        return f"rules version {version} does not parse now ({e})"
    if rules.version != version:
        return f"rules version {version}: its blackout files changed since (now {rules.version})"
    return rules


def _difference(recorded: TradeDecided, again: TradeDecided) -> str:
    for name in TradeDecided.__dataclass_fields__:
        if getattr(recorded, name) != getattr(again, name):
            return (
                f"{name}: recorded {getattr(recorded, name)!r}, replayed {getattr(again, name)!r}"
            )
    return "the same"


def _by_partition(
    events: list[tuple[int, int, GateEvent]],
) -> Iterator[tuple[int, list[tuple[int, GateEvent]]]]:
    partitions: dict[int, list[tuple[int, GateEvent]]] = {}
    for partition, offset, event in events:
        partitions.setdefault(partition, []).append((offset, event))
    yield from partitions.items()


def _read(settings: Settings, codec: Codec, topic: str) -> list[tuple[int, int, GateEvent]]:
    """Every record of ``topic`` up to its end now: (partition, offset, event)."""
    name = settings.topic(topic)
    consumer = Consumer({
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.group("gate-replay"),
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })  # fmt: skip
    try:
        metadata = consumer.list_topics(name, timeout=_WAIT).topics.get(name)
        if metadata is None or metadata.error is not None:
            raise ConfigError("KAFKA_BOOTSTRAP_SERVERS", f"topic {name} is not there to replay")
        ends = {p: watermarks(consumer, TopicPartition(name, p))[1] for p in metadata.partitions}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in pending])
        found: list[tuple[int, int, GateEvent]] = []
        while pending:
            message = consumer.poll(_WAIT)
            if message is None:
                raise ServiceError("Kafka", f"reading {name}: nothing for {_WAIT:.0f} s")
            error = message.error()
            partition, offset = message.partition() or 0, message.offset() or 0
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise ServiceError("Kafka", f"reading {name}: {error}")
                pending.discard(partition)
                continue
            event = codec.decode(message.value() or b"")
            found.append((partition, offset, event))  # type: ignore[arg-type]
        return found
    finally:
        consumer.close()
