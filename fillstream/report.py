"""What ``fillstream status`` shows: broker, database, services, topics and consumer lag."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from control.offsets import partition_positions
from core.kafka import probe_consumer, quiet_admin
from core.settings import Settings
from core.text import text_table
from deploy.services import SERVICES, ServiceStatus, service_status

_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Reachability:
    address: str
    reachable: bool
    detail: str  # "ok", or why it is not reachable


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicInfo:
    name: str
    partitions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupInfo:
    group_id: str
    state: str
    lag: int | None  # None when the offsets could not be read


@dataclass(frozen=True, slots=True, kw_only=True)
class StackStatus:
    namespace: str
    broker: Reachability
    database: Reachability
    services: list[ServiceStatus]
    topics: list[TopicInfo]
    groups: list[GroupInfo]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_status(settings: Settings) -> StackStatus:
    admin = quiet_admin(settings.bootstrap_servers)
    broker = _broker(settings, admin)
    topics = _topics(settings, admin) if broker.reachable else []
    groups = _groups(settings, admin) if broker.reachable else []
    return StackStatus(
        namespace=settings.namespace,
        broker=broker,
        database=_database(settings),
        services=[service_status(settings, name) for name in SERVICES],
        topics=topics,
        groups=groups,
    )


def render_table(status: StackStatus) -> str:
    """The status as aligned tables for people."""

    def mark(ok: bool) -> str:
        return "ok" if ok else "DOWN"

    parts = [
        text_table(
            ("component", "state", "detail"),
            [
                ("broker", mark(status.broker.reachable), _detail(status.broker)),
                ("database", mark(status.database.reachable), _detail(status.database)),
                *(
                    (
                        s.name,
                        mark(s.health == "ok"),
                        f"pid {s.pid}  {s.url}" if s.running else s.health,
                    )
                    for s in status.services
                ),
            ],
        ),
        text_table(
            (f"topic ({status.namespace}.*)", "partitions"),
            [(t.name, str(t.partitions)) for t in status.topics] or [("(none)", "")],
        ),
        text_table(
            ("consumer group", "state", "lag"),
            [(g.group_id, g.state, "?" if g.lag is None else str(g.lag)) for g in status.groups]
            or [("(none)", "", "")],
        ),
    ]
    return "\n\n".join(parts)


def _detail(check: Reachability) -> str:
    return check.address if check.reachable else f"{check.address}: {check.detail}"


def _broker(settings: Settings, admin: AdminClient) -> Reachability:
    address = settings.bootstrap_servers
    try:
        admin.list_topics(timeout=_TIMEOUT)
    except KafkaException as e:
        return Reachability(address=address, reachable=False, detail=str(e.args[0]))
    return Reachability(address=address, reachable=True, detail="ok")


def _database(settings: Settings) -> Reachability:
    address = _mask_password(settings.dsn)
    try:
        with psycopg.connect(settings.dsn, connect_timeout=int(_TIMEOUT)) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        reason = " ".join(str(e).split())
        return Reachability(address=address, reachable=False, detail=reason)
    return Reachability(address=address, reachable=True, detail="ok")


def _topics(settings: Settings, admin: AdminClient) -> list[TopicInfo]:
    prefix = settings.namespace + "."
    metadata = admin.list_topics(timeout=_TIMEOUT)
    return sorted(
        (
            TopicInfo(name=name, partitions=len(topic.partitions))
            for name, topic in metadata.topics.items()
            if name.startswith(prefix)
        ),
        key=lambda t: t.name,
    )


def _groups(settings: Settings, admin: AdminClient) -> list[GroupInfo]:
    prefix = settings.namespace + "."
    listing = admin.list_consumer_groups(request_timeout=_TIMEOUT).result()
    groups = sorted(
        (g for g in listing.valid if g.group_id.startswith(prefix)), key=lambda g: g.group_id
    )
    if not groups:
        return []
    consumer = probe_consumer(settings.bootstrap_servers, settings.group("status-probe"))
    try:
        return [
            GroupInfo(
                group_id=g.group_id,
                state=getattr(g.state, "name", str(g.state)),
                lag=_lag(admin, consumer, g.group_id),
            )
            for g in groups
        ]
    finally:
        consumer.close()


def _lag(admin: AdminClient, consumer: Consumer, group_id: str) -> int | None:
    """Total lag of ``group_id``: end offset minus committed offset, over its partitions."""
    try:
        return sum(p.lag for p in partition_positions(admin, consumer, group_id, _TIMEOUT))
    except KafkaException:
        return None


def _mask_password(dsn: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)
