"""Consumer groups' positions: what ``fillstream offsets show`` prints.

For each consumer group of the namespace: its state, its live members (client id and host) and,
per partition it has committed an offset for, the committed offset, the partition's end offset
and the lag between them. The stream stages commit their offsets inside their Kafka
transactions, so theirs are exact; the projectors keep their real positions in PostgreSQL
(``projection_offsets``) and commit to Kafka only for information, at most once a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from control.errors import OffsetsError
from core.kafka import probe_consumer, quiet_admin
from core.settings import Settings
from streams.stages.alerts import AlertOnHealth, AlertOnPerformance, AlertOnReconciliation
from streams.stages.imported import PublishImported
from streams.stages.matching import MatchExecutions
from streams.stages.paper import PaperTrades
from streams.stages.performance import ScopeTrades, ScoreTrades
from streams.stages.reconciliation import ReconcilePositions
from streams.stages.regimes import LabelRegimes

_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionPosition:
    topic: str
    partition: int
    committed: int | None
    """None: nothing committed (the group starts where its reset policy says)."""
    end: int
    lag: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPosition:
    group: str
    state: str
    members: tuple[str, ...]
    """``client id@host`` of each live member."""
    partitions: tuple[PartitionPosition, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lag": self.lag}


def resolve_group(settings: Settings, name: str) -> str:
    """The full id of group ``name``: as given when it is in the namespace, else prefixed
    with it (``streams.matching`` → ``fillstream.streams.matching``)."""
    prefix = settings.namespace + "."
    return name if name.startswith(prefix) else prefix + name


def group_positions(settings: Settings, group: str | None = None) -> list[GroupPosition]:
    """The namespace's groups (or only ``group``), by id."""
    admin = quiet_admin(settings.bootstrap_servers)
    try:
        listing = admin.list_consumer_groups(request_timeout=_TIMEOUT).result()
    except KafkaException as e:
        raise OffsetsError(f"the broker at {settings.bootstrap_servers} did not answer: {e}") from e
    prefix = settings.namespace + "."
    known = sorted(g.group_id for g in listing.valid if g.group_id.startswith(prefix))
    if group is not None:
        wanted = resolve_group(settings, group)
        if wanted not in known:
            names = ", ".join(g.removeprefix(prefix) for g in known) or "none"
            raise OffsetsError(f"no consumer group {wanted!r} (the namespace's groups: {names})")
        known = [wanted]
    if not known:
        return []
    described = admin.describe_consumer_groups(known, request_timeout=_TIMEOUT)
    consumer = probe_consumer(settings.bootstrap_servers, settings.group("offsets-probe"))
    try:
        return [_position(admin, consumer, g, described[g].result()) for g in known]
    except KafkaException as e:
        raise OffsetsError(f"reading the groups' offsets failed: {e}") from e
    finally:
        consumer.close()


def _position(
    admin: AdminClient, consumer: Consumer, group: str, description: Any
) -> GroupPosition:
    members = tuple(
        sorted(f"{m.client_id}@{m.host.lstrip('/')}" for m in description.members or [])
    )
    state = getattr(description.state, "name", str(description.state)).lower()
    rows = tuple(partition_positions(admin, consumer, group))
    return GroupPosition(group=group, state=state, members=members, partitions=rows)


def partition_positions(
    admin: AdminClient, consumer: Consumer, group: str, timeout: float = _TIMEOUT
) -> list[PartitionPosition]:
    """Per partition ``group`` has committed on: the committed offset, the end offset and the
    lag, by topic and partition."""
    request = [ConsumerGroupTopicPartitions(group)]
    committed = admin.list_consumer_group_offsets(request, request_timeout=timeout)[group]
    partitions: list[TopicPartition] = committed.result().topic_partitions or []
    rows = []
    for tp in sorted(partitions, key=lambda tp: (tp.topic, tp.partition)):
        low, high = consumer.get_watermark_offsets(
            TopicPartition(tp.topic, tp.partition), timeout=timeout, cached=False
        )
        offset = tp.offset if tp.offset >= 0 else None
        rows.append(
            PartitionPosition(
                topic=tp.topic,
                partition=tp.partition,
                committed=offset,
                end=high,
                lag=max(high - (low if offset is None else offset), 0),
            )
        )
    return rows


def render(groups: Sequence[GroupPosition]) -> str:
    """A block per group: its state, members and total lag, then a row per partition."""
    if not groups:
        return "no consumer groups in this namespace yet"
    blocks = []
    for g in groups:
        members = ", ".join(g.members) if g.members else "none"
        lines = [f"{g.group}  state {g.state}  lag {g.lag}  members {len(g.members)}: {members}"]
        rows = [("topic", "partition", "committed", "end", "lag")]
        rows += [
            (p.topic, str(p.partition), "-" if p.committed is None else str(p.committed),
             str(p.end), str(p.lag))
            for p in g.partitions
        ]  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            numbers = zip(row[1:], widths[1:], strict=True)
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
            lines.append("  " + "  ".join(cells).rstrip())
        if not g.partitions:
            lines.append("  (no committed offsets)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# -- rewinding ------------------------------------------------------------------------------------

STATEFUL_STAGES = {
    f"streams.{stage.name}": stage.changelog
    for stage in (
        MatchExecutions,
        ScopeTrades,
        ScoreTrades,
        LabelRegimes,
        PaperTrades,
        AlertOnPerformance,
        AlertOnHealth,
        ReconcilePositions,
        AlertOnReconciliation,
        PublishImported,
    )
    if stage.changelog is not None
}
"""Stage groups (as the deriver names them) whose state, in these changelogs, is rebuilt
for the new offsets when they are rewound."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where ``fillstream offsets rewind`` moves each partition (one of the modes)."""

    mode: str
    """``earliest``, ``latest``, ``datetime``, ``shift``, ``offset`` or ``phase``."""
    moment: datetime | None = None
    amount: int = 0
    offsets: Mapping[tuple[str, int], int] | None = None
    """``phase``: where the group stood when the phase started, by topic and partition."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    topic: str
    partition: int
    current: int | None
    new: int


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d`` or ISO 8601 (``PT1H30M``, ``P7D``)."""
    simple = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if simple:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[simple.group(2)]
        return timedelta(**{unit: float(simple.group(1))})
    iso = re.fullmatch(
        r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip().upper()
    )
    if iso and any(iso.groups()):
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise OffsetsError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 7d or PT1H30M)")


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time with its offset (``2026-09-22T14:00:00Z``)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OffsetsError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-09-22T14:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise OffsetsError(f"{text!r} has no time zone (add Z or +02:00)")
    return moment


def plan_rewind(settings: Settings, group: str, target: Target) -> list[Move]:
    """Each committed partition of ``group``: its offset now and where ``target`` puts it
    (within the partition's first and end offsets)."""
    wanted = resolve_group(settings, group)
    (position,) = group_positions(settings, wanted)
    if not position.partitions:
        raise OffsetsError(f"{wanted} has no committed offsets: nothing to rewind")
    consumer = probe_consumer(settings.bootstrap_servers, settings.group("offsets-probe"))
    try:
        moves = []
        for p in position.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(p.topic, p.partition), timeout=_TIMEOUT, cached=False
            )
            current = low if p.committed is None else p.committed
            if target.mode == "earliest":
                new = low
            elif target.mode == "latest":
                new = high
            elif target.mode == "shift":
                new = current + target.amount
            elif target.mode == "offset":
                new = target.amount
            elif target.mode == "phase":
                assert target.offsets is not None
                new = target.offsets.get((p.topic, p.partition), current)
            else:
                assert target.moment is not None
                # negative timestamps are the protocol's special values (-1 latest, -2 earliest)
                millis = max(0, int(target.moment.timestamp() * 1000))
                (found,) = consumer.offsets_for_times(
                    [TopicPartition(p.topic, p.partition, millis)], timeout=_TIMEOUT
                )
                new = high if found.offset < 0 else found.offset
            moves.append(
                Move(topic=p.topic, partition=p.partition, current=p.committed,
                     new=min(max(new, low), high))
            )  # fmt: skip
        return moves
    except KafkaException as e:
        raise OffsetsError(f"planning the rewind of {wanted} failed: {e}") from e
    finally:
        consumer.close()


def apply_rewind(
    settings: Settings,
    group: str,
    moves: Sequence[Move],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Commit ``moves`` for ``group``; refused while it has live members (they would overwrite
    the offsets with their own). A stage with state has it rebuilt for the new offsets by
    replaying its source from the beginning (``Deriver.replay``); returns the records replayed
    (0 for a stage without state or another group)."""
    wanted = resolve_group(settings, group)
    (position,) = group_positions(settings, wanted)
    if position.members:
        raise OffsetsError(
            f"{wanted} has {len(position.members)} live member(s) ({', '.join(position.members)}):"
            " stop them first (the worker or projector that reads with it)"
        )
    stage = wanted.removeprefix(settings.namespace + ".")
    if stage in STATEFUL_STAGES:
        return _replay(settings, stage, moves, progress)
    admin = quiet_admin(settings.bootstrap_servers)
    request = [
        ConsumerGroupTopicPartitions(
            wanted, [TopicPartition(m.topic, m.partition, m.new) for m in moves]
        )
    ]
    try:
        admin.alter_consumer_group_offsets(request, request_timeout=_TIMEOUT)[wanted].result()
    except KafkaException as e:
        raise OffsetsError(f"committing the new offsets of {wanted} failed: {e}") from e
    return 0


def _replay(
    settings: Settings,
    stage: str,
    moves: Sequence[Move],
    progress: Callable[[int, int], None] | None,
) -> int:
    from core.control_log import effective_settings
    from schemas.codec import default_codec
    from streams.runtime.deriver import Deriver
    from streams.stages import STAGES

    name = stage.removeprefix("streams.")
    settings = effective_settings(settings)  # the active phases' settings, as the worker's
    deriver = Deriver(settings, STAGES[name](settings, default_codec()))
    try:
        return deriver.replay({m.partition: m.new for m in moves}, progress=progress)
    except KafkaException as e:
        raise OffsetsError(
            f"rebuilding the state of {stage} failed ({e}); run the rewind again"
        ) from e


def render_plan(group: str, moves: Sequence[Move], executed: bool) -> str:
    rows = [("topic", "partition", "current", "new")]
    rows += [(m.topic, str(m.partition), "-" if m.current is None else str(m.current), str(m.new))
             for m in moves]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in rows
    ]
    verdict = "applied" if executed else "not applied: add --execute to commit these offsets"
    return "\n".join([f"rewind of {group}:", *lines, verdict])
