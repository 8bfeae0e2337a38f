"""The executions projection (every ``ExecutionReported``, once, behind the ``executions`` view),
the execution corrections projection (every ``ExecutionCorrected`` and ``ExecutionBusted``, once,
behind the ``execution_corrections`` view: compensating events, which never change an execution's
row) and the orders projection (each order's latest ``OrderUpdated``, behind the ``orders``
view)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.projection import Location, Projection, RowSpec
from schemas.catalog import RAW_EXECUTIONS, RAW_ORDERS
from schemas.events import (
    Event,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    OrderUpdated,
)

EXECUTION_ROW = RowSpec.of(
    ExecutionReported,
    {
        "account": "account",
        "execution_id": "execution_id",
        "instrument": "instrument",
        "side": "side",
        "quantity": "quantity",
        "price": "price",
        "commission": "commission",
        "fees": "fees",
        "order_id": "order_id",
        "order_name": "order_name",
        "position_effect": "position_effect",
        "strategy": "strategy",
        "variant": "variant",
        "signal_id": "signal_id",
        "nt_trade_id": "trade_id",
        "time": "envelope.ts_event",
        "source": "envelope.source",
        "producer": "envelope.producer",
        "event_id": "envelope.event_id",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
    },
)


EXECUTIONS = Projection(
    name="executions",
    topics=(RAW_EXECUTIONS,),
    columns=EXECUTION_ROW.columns,
    key=("account", "execution_id", "time"),
    partition_by="time",
    to_rows=EXECUTION_ROW.to_rows,
    row=EXECUTION_ROW,
    linger=1.0,
)


def correction_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    """A correction's row: what the broker amended the execution to, or that it busted it."""
    if isinstance(event, ExecutionCorrected):
        kind = "corrected"
        amended: tuple[Any, ...] = (
            event.side.value,
            event.quantity,
            event.price,
            event.commission,
            event.fees,
            event.executed_at,
            event.order_id,
            event.order_number,
        )
    elif isinstance(event, ExecutionBusted):
        kind, amended = "busted", (None,) * 8
    else:
        return ()
    e = event.envelope
    return (
        (
            e.event_id,
            kind,
            event.account,
            event.execution_id,
            event.instrument,
            *amended,
            event.reason,
            e.ts_event,
            where.topic,
            where.partition,
            where.offset,
            e.ts_ingested,
        ),
    )


EXECUTION_CORRECTIONS = Projection(
    name="execution_corrections",
    topics=(RAW_EXECUTIONS,),
    columns=(
        "event_id",
        "kind",
        "account",
        "execution_id",
        "instrument",
        "side",
        "quantity",
        "price",
        "commission",
        "fees",
        "executed_at",
        "order_id",
        "order_number",
        "reason",
        "ts_event",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_ingested",
    ),
    key=("event_id",),
    to_rows=correction_rows,
    linger=0.5,
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
    topics=(RAW_ORDERS,),
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
