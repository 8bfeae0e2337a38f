"""The alerts projection: every ``AlertChanged`` on ``derived.alerts``, behind the ``alerts``
view; ``alert_history`` (one row per alert, raised to resolved) and ``alerts_active`` read it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.projection import LINEAGE_COLUMNS, Location, Projection, lineage
from schemas.catalog import DERIVED_ALERTS
from schemas.events import AlertChanged, Event


def alert_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, AlertChanged):
        return ()
    return (
        (
            event.rule,
            event.key,
            event.raised_at,
            event.state.value,
            event.severity.value,
            event.summary,
            json.dumps(dict(event.labels), sort_keys=True),
            *lineage(event.envelope, where),
        ),
    )


ALERTS = Projection(
    name="alerts",
    topics=(DERIVED_ALERTS,),
    columns=(
        "rule",
        "key",
        "raised_at",
        "state",
        "severity",
        "summary",
        "labels",
        *LINEAGE_COLUMNS,
    ),
    key=("rule", "key", "raised_at", "state"),
    to_rows=alert_rows,
)
