"""The executions projection (every ``ExecutionReported``, once, behind the ``executions`` view)
and the orders projection (each order's latest ``OrderUpdated``, behind the ``orders`` view)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.projection import Location, Projection
from schemas.events import Event, ExecutionReported, OrderUpdated


def execution_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, ExecutionReported):
        return ()
    e = event.envelope
    return (
        (
            event.account,
            event.execution_id,
            event.instrument,
            event.side.value,
            event.quantity,
            event.price,
            event.commission,
            event.fees,
            event.order_id,
            event.order_name,
            event.position_effect.value,
            event.strategy,
            event.variant,
            event.signal_id,
            event.trade_id,
            e.ts_event,
            e.source.value,
            e.producer,
            e.event_id,
            where.topic,
            where.partition,
            where.offset,
            e.ts_ingested,
        ),
    )


EXECUTIONS = Projection(
    name="executions",
    topics=("raw.executions",),
    columns=(
        "account",
        "execution_id",
        "instrument",
        "side",
        "quantity",
        "price",
        "commission",
        "fees",
        "order_id",
        "order_name",
        "position_effect",
        "strategy",
        "variant",
        "signal_id",
        "nt_trade_id",
        "time",
        "source",
        "producer",
        "event_id",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
    ),
    key=("account", "execution_id", "time"),
    partition_by="time",
    to_rows=execution_rows,
    linger=1.0,
)


def order_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, OrderUpdated):
        return ()
    e = event.envelope
    return (
        (
            event.account,
            event.order_id,
            event.instrument,
            event.side.value,
            event.order_type.value,
            event.state.value,
            event.quantity,
            event.filled,
            event.limit_price,
            event.stop_price,
            event.average_fill_price,
            event.order_name,
            event.strategy,
            event.error,
            e.ts_event,
            e.source.value,
            e.event_id,
            where.topic,
            where.partition,
            where.offset,
            e.ts_ingested,
        ),
    )


ORDERS = Projection(
    name="orders",
    topics=("raw.orders",),
    columns=(
        "account",
        "order_id",
        "instrument",
        "side",
        "order_type",
        "state",
        "quantity",
        "filled",
        "limit_price",
        "stop_price",
        "average_fill_price",
        "order_name",
        "strategy",
        "error",
        "updated",
        "source",
        "event_id",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
    ),
    key=("account", "order_id"),
    to_rows=order_rows,
    newer_by="updated",
    linger=0.5,
)
