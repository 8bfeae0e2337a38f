"""The trades projection: one row per TradeClosed, behind the ``trades`` view (each trade's
latest revision, unless voided) and the ``trade_corrections`` view (the revisions after the
first, beside the ones they replaced)."""

from __future__ import annotations

from projections.projection import Projection, RowSpec
from schemas.catalog import DERIVED_TRADES
from schemas.events import TradeClosed

TRADE_ROW = RowSpec.of(
    TradeClosed,
    {
        "trade_id": "trade_id",
        "account": "account",
        "instrument": "instrument",
        "strategy": "strategy",
        "variant": "variant",
        "signal_id": "signal_id",
        "direction": "direction",
        "quantity": "quantity",
        "entry_time": "entry_time",
        "exit_time": "exit_time",
        "entry_price": "entry_price",
        "exit_price": "exit_price",
        "point_value": "point_value",
        "currency": "currency",
        "gross_pnl": "gross_pnl",
        "commission": "commission",
        "net_pnl": "net_pnl",
        "mae": "mae",
        "mfe": "mfe",
        "exit_name": "exit_name",
        "execution_ids": "execution_ids",
        "source": "envelope.source",
        "event_id": "envelope.event_id",
        "causation_ids": "envelope.causation_ids",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
        "round_trip_id": "round_trip_id",
        "fees": "fees",
        "entry_name": "entry_name",
        "exit_reason": "exit_reason",
        "points": "points",
        "ticks": "ticks",
        "duration": "duration_micros:interval",
        "initial_stop": "initial_stop",
        "risk": "risk",
        "r_multiple": "r_multiple",
        "revision": "revision",
        "supersedes": "supersedes",
        "correction_id": "correction_id",
        "voided": "voided",
        "etd": "etd",
        "covered_by": "covered_by",
    },
)

TRADES = Projection(
    name="trades",
    topics=(DERIVED_TRADES,),
    columns=TRADE_ROW.columns,
    key=("trade_id", "revision", "exit_time"),
    partition_by="exit_time",
    to_rows=TRADE_ROW.to_rows,
    row=TRADE_ROW,
)
