"""What ``fillstream status`` shows: broker, database, services, topics, consumer lag, and the
positions where NinjaTrader and fillstream disagree (the ``position_drifts_open`` view)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import sql

from control.offsets import partition_positions
from core.kafka import probe_consumer, quiet_admin
from core.settings import Settings
from core.text import text_table, when
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
class DriftInfo:
    """A position where NinjaTrader's report and the derived one disagree (signed quantities:
    long +, short -)."""

    account: str
    instrument: str
    reported: int
    derived: int
    since: datetime
    """When they began to disagree."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StackStatus:
    namespace: str
    broker: Reachability
    database: Reachability
    services: list[ServiceStatus]
    topics: list[TopicInfo]
    groups: list[GroupInfo]
    drifts: list[DriftInfo] | None = None
    """The open position drifts; None when they could not be read (no database, not
    migrated)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_status(settings: Settings) -> StackStatus:
    admin = quiet_admin(settings.bootstrap_servers)
    broker = _broker(settings, admin)
    topics = _topics(settings, admin) if broker.reachable else []
    groups = _groups(settings, admin) if broker.reachable else []
    database = _database(settings)
    return StackStatus(
        namespace=settings.namespace,
        broker=broker,
        database=database,
        services=[service_status(settings, name) for name in SERVICES],
        topics=topics,
        groups=groups,
        drifts=_drifts(settings) if database.reachable else None,
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
    if status.drifts is not None:
        parts.append(
            text_table(
                ("position drift", "NinjaTrader", "fillstream", "since"),
                [
                    (
                        f"{d.account} {d.instrument}",
                        _position(d.reported),
                        _position(d.derived),
                        when(d.since),
                    )
                    for d in status.drifts
                ]  # fmt: skip
                or [("(none)", "", "", "")],
            )
        )
    return "\n\n".join(parts)


def _position(quantity: int) -> str:
    if quantity > 0:
        return f"{quantity} long"
    if quantity < 0:
        return f"{-quantity} short"
    return "flat"


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


def _drifts(settings: Settings) -> list[DriftInfo] | None:
    """The open position drifts, or None if the view cannot be read (not migrated yet)."""
    try:
        with psycopg.connect(settings.dsn, connect_timeout=int(_TIMEOUT)) as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT account, instrument, reported, derived, since"
                    " FROM {}.position_drifts_open ORDER BY account, instrument"
                ).format(sql.Identifier(settings.namespace))
            ).fetchall()
    except psycopg.Error:
        return None
    return [
        DriftInfo(account=a, instrument=i, reported=r, derived=d, since=s) for a, i, r, d, s in rows
    ]


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
