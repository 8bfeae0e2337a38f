"""The regimes projection: every ``RegimeLabeled`` on ``derived.regimes``, behind the
``regime_labels`` view; ``regimes``, ``trade_regimes`` and ``performance_by_regime`` read it
(``views/3_regimes.sql``, ``3_trade_regimes.sql``, ``4_performance_by_regime.sql``): each
trade tagged with the regime in force at its entry, and the trades' figures per regime."""

from __future__ import annotations

from projections.projection import Projection, RowSpec
from schemas.catalog import DERIVED_REGIMES
from schemas.events import RegimeLabeled

LABEL_ROW = RowSpec.of(
    RegimeLabeled,
    {
        "instrument": "instrument",
        "period": "period",
        "classifier_version": "classifier_version",
        "ts_event": "envelope.ts_event",
        "label": "label",
        "volatility": "volatility",
        "trend": "trend",
        "atr": "atr",
        "atr_percentile": "atr_percentile",
        "trend_strength": "trend_strength",
        "bars": "bars",
        "event_id": "envelope.event_id",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
    },
)

REGIME_LABELS = Projection(
    name="regime_labels",
    topics=(DERIVED_REGIMES,),
    columns=LABEL_ROW.columns,
    key=("instrument", "period", "classifier_version", "ts_event"),
    to_rows=LABEL_ROW.to_rows,
    row=LABEL_ROW,
)
