"""The trades projection: one row per TradeClosed, behind the ``trades`` view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from projections.projection import Location, Projection
from schemas.events import Event, TradeClosed


def trade_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, TradeClosed):
        return ()
    return (
        (
            event.trade_id,
            event.account,
            event.instrument,
            event.strategy,
            event.variant,
            event.signal_id,
            event.direction.value,
            event.quantity,
            event.entry_time,
            event.exit_time,
            event.entry_price,
            event.exit_price,
            event.point_value,
            event.currency,
            event.gross_pnl,
            event.commission,
            event.net_pnl,
            event.mae,
            event.mfe,
            event.exit_name,
            list(event.execution_ids),
            event.envelope.source.value,
            event.envelope.event_id,
            list(event.envelope.causation_ids),
            where.topic,
            where.partition,
            where.offset,
            event.envelope.ts_ingested,
            event.round_trip_id,
            event.fees,
            event.entry_name,
            event.exit_reason.value,
            event.points,
            event.ticks,
            None
            if event.duration_micros is None
            else timedelta(microseconds=event.duration_micros),
            event.initial_stop,
            event.risk,
            event.r_multiple,
        ),
    )


TRADES = Projection(
    name="trades",
    topics=("derived.trades",),
    columns=(
        "trade_id",
        "account",
        "instrument",
        "strategy",
        "variant",
        "signal_id",
        "direction",
        "quantity",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "point_value",
        "currency",
        "gross_pnl",
        "commission",
        "net_pnl",
        "mae",
        "mfe",
        "exit_name",
        "execution_ids",
        "source",
        "event_id",
        "causation_ids",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
        "round_trip_id",
        "fees",
        "entry_name",
        "exit_reason",
        "points",
        "ticks",
        "duration",
        "initial_stop",
        "risk",
        "r_multiple",
    ),
    key=("trade_id", "exit_time"),
    partition_by="exit_time",
    to_rows=trade_rows,
)
