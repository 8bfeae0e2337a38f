"""The pre-trade gate in the bridge: decisions answered from memory, each stored first.

``Gate`` follows the topics its state needs (``domain.gate.state``) from their first record, on
a thread of its own (``raw.market`` only from ``BARS_LOOKBACK`` back), and counts, per
``topic:partition``, the next offset it has not read: a decision records them (``as_of``), so a
replay can fold the same records and decide it again. Until every partition was read to its end
once, it answers nothing (``GateUnavailable``: the bridge says 503 and the strategy applies its
failure policy).

Deciding holds the state's lock while the decision is made, applied and handed to the producer,
so decisions reach ``derived.decisions`` (one partition) in the order they were made, and each
sees every earlier one. The answer waits for Kafka's acknowledgement, at most
``FILLSTREAM_GATE_TIMEOUT`` (the producer's own message timeout, so its delivery report is
final): a decision Kafka did not store is withdrawn from the state and answered 503. The same
request for a signal already decided gets the recorded answer again, and nothing new is stored.

``derived.decisions`` is followed by a consumer of its own that fetches at most every
``DECISIONS_FETCH_WAIT_MS`` once read to its end: the bridge applies its own decisions as it makes
them, and reading each one back the moment it is stored would cost every decision a fetch and a
wake-up of the follower. Read back in batches, a decision that Kafka stored but reported as not
stored (answered 503) still reaches the state, later.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from bridge import metrics
from bridge.errors import PublishError
from bridge.publisher import async_resolver, kafka_record, produce
from core.errors import CodecError, FillstreamError
from core.kafka import consume_batch, producer_config
from core.settings import Settings
from domain.gate import GateState, Proposal, Rules, decide
from domain.gate.state import BARS_LOOKBACK, GateEvent, Halt
from domain.performance.figures import trading_day
from schemas.catalog import (
    CONTROL_GATE,
    DERIVED_CALIBRATION,
    DERIVED_DECISIONS,
    DERIVED_POSITIONS,
    DERIVED_REGIMES,
    DERIVED_TRADES,
    RAW_INSTRUMENTS,
    RAW_MARKET,
)
from schemas.codec import Codec
from schemas.events import (
    BarClosed,
    CalibrationFitted,
    Envelope,
    EventId,
    GateAction,
    GateChanged,
    InstrumentDefined,
    PositionChanged,
    RegimeLabeled,
    Source,
    TradeClosed,
    TradeDecided,
)

log = logging.getLogger("fillstream.bridge")

FOLLOWED = (
    DERIVED_TRADES,
    DERIVED_POSITIONS,
    RAW_MARKET,
    DERIVED_REGIMES,
    RAW_INSTRUMENTS,
    DERIVED_CALIBRATION,
    DERIVED_DECISIONS,
    CONTROL_GATE,
)
"""The topics the gate's state is folded from."""

DECISIONS_FETCH_WAIT_MS = 250
"""How long the broker may hold a fetch of ``derived.decisions`` for more to arrive."""
_BATCHED_FETCHES = {"fetch.wait.max.ms": DECISIONS_FETCH_WAIT_MS, "fetch.min.bytes": 1 << 20}

PRODUCER = "fillstream-gate/0.1.0"
_STATE_EVENTS = (TradeClosed, PositionChanged, BarClosed, RegimeLabeled, InstrumentDefined,
                 CalibrationFitted, TradeDecided, GateChanged)  # fmt: skip


class GateUnavailable(FillstreamError):
    """The gate cannot decide now: the log not read yet, or the decision not stored."""


class Gate:
    """Follows the log into a ``GateState`` and decides proposals; see the module's docs."""

    def __init__(self, settings: Settings, codec: Codec, rules: Rules, group: str) -> None:
        self.rules = rules
        self.state = GateState()
        self.loaded = threading.Event()
        self._settings = settings
        self._codec = codec
        self._group = group
        self._lock = threading.Lock()
        self._offsets: dict[str, int] = {}
        self._catalog: dict[str, str] = {}
        self._made = _Made()
        self._stop = threading.Event()
        self._unread: set[tuple[str, int]] = set()
        """The partitions not yet read to their end once; the gate decides when none is left."""
        self._waiting = len(_PARTS)
        """The followers that have not assigned their partitions yet."""
        timeout_ms = int(settings.gate_timeout * 1000)
        self._producer = Producer(
            {
                **producer_config(settings),
                "linger.ms": 0,
                "message.timeout.ms": timeout_ms,
                "delivery.timeout.ms": timeout_ms,
            }  # fmt: skip
        )
        self._threads = [
            *(
                threading.Thread(target=self._follow, args=(part,), name=name, daemon=True)
                for name, part in _PARTS.items()
            ),
            threading.Thread(target=self._deliver, name="gate-delivery", daemon=True),
        ]

    def start(self) -> Gate:
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(timeout=10)
        self._producer.flush(5.0)

    # -- deciding ------------------------------------------------------------------------------

    async def decide(self, proposal: Proposal) -> TradeDecided:
        """The decision on ``proposal``, stored in Kafka; ``GateUnavailable`` when it cannot be."""
        if not self.loaded.is_set():
            raise GateUnavailable("the gate has not read the log yet (is Kafka reachable?)")
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[None] = loop.create_future()
        asked = time.perf_counter()
        with self._lock:
            locked = time.perf_counter()
            earlier = self.state.decided(proposal.signal_id)
            if earlier is not None and same_request(earlier, proposal):
                return earlier
            now = datetime.now(UTC)
            decision = decide(
                proposal,
                rules=self.rules,
                state=self.state,
                envelope=_envelope(now, causes=(proposal.signal_id,)),
                decision_id=f"dc-{uuid.uuid4().hex}",
                as_of=dict(self._offsets),
            )
            self.state.apply(decision)
            self._made.add(decision.envelope.event_id)
            self._produce(decision, async_resolver(loop, stored))
        handed = time.perf_counter()
        try:
            await asyncio.wait_for(stored, timeout=self._settings.gate_timeout + 1.0)
        except (TimeoutError, PublishError) as e:
            self._made.discard_if_present(decision.envelope.event_id)
            with self._lock:
                self.state.withdraw(decision)
            log.error("decision %s for %s not stored (%s); answered 503",
                      decision.decision_id, proposal.signal_id, e or "timed out")  # fmt: skip
            reason = f"the decision could not be stored in Kafka: {e or 'timeout'}"
            raise GateUnavailable(reason) from e
        metrics.DECISION_PART_SECONDS.labels("wait").observe(locked - asked)
        metrics.DECISION_PART_SECONDS.labels("evaluate").observe(handed - locked)
        metrics.DECISION_PART_SECONDS.labels("store").observe(time.perf_counter() - handed)
        return decision

    def halts(self) -> list[Halt]:
        now = datetime.now(UTC)
        with self._lock:
            return self.state.halts(now, trading_day(now))

    def log_rules_version(self) -> GateChanged | None:
        """Log the rules' version on ``control.gate`` unless it is the last one logged."""
        with self._lock:
            logged = self.state.logged_version
        if logged == self.rules.version or (logged is None and self.rules == Rules()):
            return None  # the same, or no rules file ever
        now = datetime.now(UTC)
        change = GateChanged(
            envelope=_envelope(now),
            action=GateAction.CONFIGURED,
            actor="bridge",
            reason="the bridge started with these rules",
            rules_version=self.rules.version,
            rules_text=self.rules.text,
        )
        done = threading.Event()
        self._produce(change, lambda error, _m: done.set())
        done.wait(self._settings.gate_timeout + 1.0)
        return change

    def _produce(self, event: TradeDecided | GateChanged, on_delivery: Callable[..., None]) -> None:
        produce(self._producer, kafka_record(self._settings, self._codec, event), on_delivery)

    def _deliver(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    # -- following -----------------------------------------------------------------------------

    def _follow(self, part: _Part) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.bootstrap_servers,
                "group.id": self._settings.group(self._group),
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                **part.fetches,
            }
        )
        assigned = None
        backoff = 0.5
        while assigned is None and not self._stop.is_set():
            try:
                assigned = self._assign(consumer, part.topics)
            except KafkaException as e:  # Kafka down, or the topics not made yet
                log.warning("gate: cannot read its topics (%s); retrying in %.1fs", e, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        if assigned is None:
            consumer.close()
            return
        with self._lock:
            self._unread |= assigned
            self._waiting -= 1
        reported = False
        try:
            while not self._stop.is_set():
                for message in consume_batch(consumer, 500, 0.2):
                    error = message.error()
                    if error is None:
                        self._apply(message)
                    elif error.code() == KafkaError._PARTITION_EOF:
                        self._read_once((message.topic() or "", message.partition() or 0))
                    elif not reported:
                        log.warning("gate: reading %s: %s; retrying", message.topic(), error)
                        reported = True
        finally:
            consumer.close()

    def _read_once(self, partition: tuple[str, int]) -> None:
        with self._lock:
            self._unread.discard(partition)
            done = not self._unread and not self._waiting
        if done and not self.loaded.is_set():
            self.loaded.set()
            log.info("gate: the log read; deciding")

    def _assign(self, consumer: Consumer, topics: tuple[str, ...]) -> set[tuple[str, int]]:
        """Assign every partition of ``topics``; the set of them, all still unread."""
        names = {self._settings.topic(t): t for t in topics}
        metadata = consumer.list_topics(timeout=10)
        partitions = []
        since = int((datetime.now(UTC) - BARS_LOOKBACK).timestamp() * 1000)
        for name, topic in names.items():
            known = metadata.topics.get(name)
            if known is None or known.error is not None:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, name))
            for p in known.partitions:
                offset = since if topic == RAW_MARKET else OFFSET_BEGINNING
                partitions.append(TopicPartition(name, p, offset))
        market = [tp for tp in partitions if names[tp.topic] == RAW_MARKET]
        if market:
            found = consumer.offsets_for_times(market, timeout=10)
            starts = {(tp.topic, tp.partition): tp.offset for tp in found}
            for tp in market:
                tp.offset = starts[(tp.topic, tp.partition)]
        with self._lock:
            self._catalog.update(names)
        consumer.assign(partitions)
        return {(tp.topic, tp.partition) for tp in partitions}

    def _apply(self, message: Message) -> None:
        key = f"{self._catalog[message.topic() or '']}:{message.partition()}"
        if self._own(message):  # applied when it was made: not decoded again
            with self._lock:
                self._offsets[key] = (message.offset() or 0) + 1
            return
        try:
            event = self._codec.decode(message.value() or b"")
        except CodecError as e:
            log.error("gate: %s offset %d does not decode (%s); skipped", message.topic(),
                      message.offset(), e)  # fmt: skip
            event = None
        with self._lock:
            if isinstance(event, _STATE_EVENTS):
                self.state.apply(_as_state_event(event))
            self._offsets[key] = (message.offset() or 0) + 1

    def _own(self, message: Message) -> bool:
        """A decision this process made and applied (its record's event id is one it wrote)."""
        if self._catalog.get(message.topic() or "") != DERIVED_DECISIONS:
            return False
        headers = message.headers() or []
        pairs = headers.items() if isinstance(headers, dict) else headers
        event_id = next((value for name, value in pairs if name == "event_id"), None)
        return event_id is not None and self._made.discard_if_present(event_id)


@dataclass(frozen=True)
class _Part:
    """What one of the gate's consumers follows, and how it fetches."""

    topics: tuple[str, ...]
    fetches: dict[str, int] = field(default_factory=dict)


_PARTS = {
    "gate-follower": _Part(tuple(t for t in FOLLOWED if t != DERIVED_DECISIONS)),
    "gate-decisions": _Part((DERIVED_DECISIONS,), _BATCHED_FETCHES),
}


class _Made:
    """The event ids of the decisions this process stored and has not read back yet."""

    def __init__(self) -> None:
        self._ids: set[bytes] = set()
        self._lock = threading.Lock()

    def add(self, event_id: str) -> None:
        with self._lock:
            self._ids.add(event_id.encode())

    def discard_if_present(self, event_id: bytes | str | None) -> bool:
        raw = event_id.encode() if isinstance(event_id, str) else event_id
        with self._lock:
            if raw in self._ids:
                self._ids.discard(raw)
                return True
        return False


def _as_state_event(event: Any) -> GateEvent:
    return event  # type: ignore[no-any-return]


def same_request(decision: TradeDecided, proposal: Proposal) -> bool:
    """Whether ``proposal`` asks again what ``decision`` answered (a retry)."""
    return (
        decision.account == proposal.account
        and decision.instrument == proposal.instrument
        and decision.strategy == proposal.strategy
        and decision.variant == proposal.variant
        and decision.direction == proposal.direction
        and decision.entry_price == proposal.entry_price
        and decision.intended_stop == proposal.intended_stop
        and decision.intended_target == proposal.intended_target
        and decision.confidence == proposal.confidence
        and decision.proposed_quantity == proposal.quantity
    )


def _envelope(now: datetime, causes: tuple[str, ...] = ()) -> Envelope:
    return Envelope(
        event_id=EventId(f"gate-{uuid.uuid4().hex}"),
        ts_event=now,
        ts_ingested=now,
        source=Source.LIVE,
        producer=PRODUCER,
        causation_ids=causes,
    )
