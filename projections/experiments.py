"""The assignments projection: every ``VariantAssigned`` on ``raw.assignments`` (the first of
each experiment and signal), behind the ``assignments`` view; ``experiment_trades`` joins them
to the trades of their signals (``migrations/0013_experiments.sql``)."""

from __future__ import annotations

from projections.projection import Projection, RowSpec
from schemas.events import VariantAssigned

ASSIGNMENT_ROW = RowSpec.of(
    VariantAssigned,
    {
        "experiment_id": "experiment_id",
        "signal_id": "signal_id",
        "strategy": "strategy",
        "arm": "arm",
        "variant": "variant",
        "step": "step",
        "treatment_percent": "treatment_percent",
        "bucket": "bucket",
        "assigned_at": "envelope.ts_event",
        "event_id": "envelope.event_id",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
    },
)

ASSIGNMENTS = Projection(
    name="assignments",
    topics=("raw.assignments",),
    columns=ASSIGNMENT_ROW.columns,
    key=("experiment_id", "signal_id"),
    to_rows=ASSIGNMENT_ROW.to_rows,
    row=ASSIGNMENT_ROW,
)
