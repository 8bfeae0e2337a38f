"""The position drifts projection: every ``PositionDrift`` on ``derived.reconciliation``, behind
the ``position_drifts`` view; ``position_drifts_open`` (``views/2_position_drifts_open.sql``)
reads it: each account and instrument whose last drift is not resolved, which
``fillstream status`` shows."""

from __future__ import annotations

from projections.projection import Projection, RowSpec
from schemas.catalog import DERIVED_RECONCILIATION
from schemas.events import PositionDrift

DRIFT_ROW = RowSpec.of(
    PositionDrift,
    {
        "account": "account",
        "instrument": "instrument",
        "reported": "reported",
        "derived": "derived",
        "since": "since",
        "resolved": "resolved",
        "ts_event": "envelope.ts_event",
        "event_id": "envelope.event_id",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
    },
)

POSITION_DRIFTS = Projection(
    name="position_drifts",
    topics=(DERIVED_RECONCILIATION,),
    columns=DRIFT_ROW.columns,
    key=("event_id",),
    to_rows=DRIFT_ROW.to_rows,
    row=DRIFT_ROW,
)
