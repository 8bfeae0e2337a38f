"""The projections experiments read: every ``VariantAssigned`` on ``raw.assignments`` (the first
of each experiment and signal) behind the ``assignments`` view, and every ``SignalEmitted`` on
``raw.signals`` (the first of each strategy and signal id) behind ``signals``;
``experiment_trades`` joins them to the trades of their signals
(``views/2_experiment_trades.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.projection import (
    LINEAGE_COLUMNS,
    Location,
    Projection,
    RowSpec,
    finite_json,
    lineage,
)
from schemas.catalog import RAW_ASSIGNMENTS, RAW_SIGNALS
from schemas.events import Event, SignalEmitted, VariantAssigned

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
    topics=(RAW_ASSIGNMENTS,),
    columns=ASSIGNMENT_ROW.columns,
    key=("experiment_id", "signal_id"),
    to_rows=ASSIGNMENT_ROW.to_rows,
    row=ASSIGNMENT_ROW,
)


def signal_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, SignalEmitted):
        return ()
    return (
        (
            event.strategy,
            event.signal_id,
            event.account,
            event.instrument,
            event.variant,
            event.direction.value,
            event.confidence,
            event.intended_stop,
            event.intended_target,
            finite_json(event.features),
            *lineage(event.envelope, where),
        ),
    )


SIGNALS = Projection(
    name="signals",
    topics=(RAW_SIGNALS,),
    columns=(
        "strategy",
        "signal_id",
        "account",
        "instrument",
        "variant",
        "direction",
        "confidence",
        "intended_stop",
        "intended_target",
        "features",
        *LINEAGE_COLUMNS,
    ),  # fmt: skip
    key=("strategy", "signal_id"),
    to_rows=signal_rows,
)
