"""The uptime projection: every ``ServiceChecked`` on ``health``, behind the ``service_checks``
view; ``uptime_spans``, ``uptime_daily`` and ``uptime_monthly`` read it (each process's
availability per UTC day and month, see ``views/3_uptime_daily.sql`` and
``3_uptime_monthly.sql``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.projection import Location, Projection, finite_json
from schemas.catalog import HEALTH
from schemas.events import Event, ServiceChecked


def check_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, ServiceChecked):
        return ()
    return (
        (
            event.service,
            event.instance,
            event.envelope.ts_event,
            event.healthy,
            json.dumps(dict(event.checks), sort_keys=True),
            finite_json(event.figures),
            event.interval_seconds,
            event.started_at,
            event.envelope.event_id,
            where.topic,
            where.partition,
            where.offset,
            event.envelope.ts_ingested,
        ),
    )


SERVICE_CHECKS = Projection(
    name="service_checks",
    topics=(HEALTH,),
    columns=(
        "service",
        "instance",
        "ts_event",
        "healthy",
        "checks",
        "figures",
        "interval_seconds",
        "started_at",
        "event_id",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
    ),
    key=("service", "instance", "ts_event"),
    to_rows=check_rows,
)
