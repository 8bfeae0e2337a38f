"""The gate's decisions projection: every ``TradeDecided`` on ``derived.decisions``, each rule's
verdict kept as JSON, behind the ``decisions`` and ``decision_rules`` views;
``gate_outcomes`` joins each decision to what its signal made: the live trades of an allowed
one, the paper trades of a denied one (``views/2_gate_outcomes.sql``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.text import plain
from projections.projection import LINEAGE_COLUMNS, Location, Projection, lineage
from schemas.catalog import DERIVED_DECISIONS
from schemas.events import Event, TradeDecided


def decision_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, TradeDecided):
        return ()
    rules = [
        {"rule": v.rule, "kind": v.kind, "mode": v.mode.value, "verdict": v.verdict.value,
         "value": plain(v.value), "limit": plain(v.limit), "reason": v.reason, "halt": v.halt}
        for v in event.rules
    ]  # fmt: skip
    return (
        (
            event.decision_id,
            event.signal_id,
            event.account,
            event.instrument,
            event.strategy,
            event.variant,
            event.direction.value,
            event.decision.value,
            event.quantity,
            event.proposed_quantity,
            event.entry_price,
            event.intended_stop,
            event.intended_target,
            event.confidence,
            event.calibrated_confidence,
            event.calibration_version,
            json.dumps(rules),
            event.sizing_method,
            event.sizing,
            event.rules_version,
            event.trading_day,
            event.halt_id,
            event.halt_started,
            *lineage(event.envelope, where),
        ),
    )


DECISIONS = Projection(
    name="decisions",
    topics=(DERIVED_DECISIONS,),
    columns=(
        "decision_id",
        "signal_id",
        "account",
        "instrument",
        "strategy",
        "variant",
        "direction",
        "decision",
        "quantity",
        "proposed_quantity",
        "entry_price",
        "intended_stop",
        "intended_target",
        "confidence",
        "calibrated_confidence",
        "calibration_version",
        "rules",
        "sizing_method",
        "sizing",
        "rules_version",
        "trading_day",
        "halt_id",
        "halt_started",
        *LINEAGE_COLUMNS,
    ),  # fmt: skip
    key=("decision_id",),
    to_rows=decision_rows,
)
