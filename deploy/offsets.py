"""Consumer groups' positions: what ``fillstream offsets show`` prints.

For each consumer group of the namespace: its state, its live members (client id and host) and,
per partition it has committed an offset for, the committed offset, the partition's end offset
and the lag between them. The stream stages commit their offsets inside their Kafka
transactions, so theirs are exact; the projectors keep their real positions in PostgreSQL
(``projection_offsets``) and commit to Kafka only for information, at most once a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from deploy._rdkafka import QUIET_LOGGER, quiet_admin
from fillstream.errors import FillstreamError
from fillstream.settings import Settings

_TIMEOUT = 10.0


class OffsetsError(FillstreamError):
    """A group that does not exist, or a broker that does not answer."""


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
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group("offsets-probe"),  # never joins: no subscribe()
            "enable.auto.commit": False,
            "logger": QUIET_LOGGER,
        }
    )
    try:
        return [_position(admin, consumer, g, described[g].result()) for g in known]
    except KafkaException as e:
        raise OffsetsError(f"reading the groups' offsets failed: {e}") from e
    finally:
        consumer.close()


def _position(
    admin: AdminClient, consumer: Consumer, group: str, description: Any
) -> GroupPosition:
    request = [ConsumerGroupTopicPartitions(group)]
    committed = admin.list_consumer_group_offsets(request, request_timeout=_TIMEOUT)[group]
    partitions: list[TopicPartition] = committed.result().topic_partitions or []
    rows = []
    for tp in sorted(partitions, key=lambda tp: (tp.topic, tp.partition)):
        low, high = consumer.get_watermark_offsets(
            TopicPartition(tp.topic, tp.partition), timeout=_TIMEOUT, cached=False
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
    members = tuple(
        sorted(f"{m.client_id}@{m.host.lstrip('/')}" for m in description.members or [])
    )
    state = getattr(description.state, "name", str(description.state)).lower()
    return GroupPosition(group=group, state=state, members=members, partitions=tuple(rows))


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
