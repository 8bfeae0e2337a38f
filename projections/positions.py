"""The positions projection: each position's latest ``PositionChanged``, behind the ``positions``
view (open positions marked to the market); and the market projection: every closed bar, behind
the ``market_bars`` view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.projection import Location, Projection, RowSpec
from schemas.catalog import DERIVED_POSITIONS, RAW_MARKET
from schemas.events import BarClosed, Event, PositionChanged


def position_rows(event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
    if not isinstance(event, PositionChanged):
        return ()
    return (
        (
            event.account,
            event.instrument,
            event.strategy or "",
            event.sequence,
            event.execution_id,
            event.quantity,
            event.average_price,
            event.oldest_entry,
            event.round_trip_id,
            event.point_value,
            event.currency,
            event.open_costs,
            event.realized_pnl,
            event.initial_stop,
            event.envelope.event_id,
            where.topic,
            where.partition,
            where.offset,
            event.envelope.ts_event,
            event.envelope.ts_ingested,
        ),
    )


POSITIONS = Projection(
    name="positions",
    topics=(DERIVED_POSITIONS,),
    columns=(
        "account",
        "instrument",
        "strategy",
        "sequence",
        "execution_id",
        "quantity",
        "average_price",
        "oldest_entry",
        "round_trip_id",
        "point_value",
        "currency",
        "open_costs",
        "realized_pnl",
        "initial_stop",
        "event_id",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "ts_event",
        "ts_ingested",
    ),
    key=("account", "instrument", "strategy"),
    to_rows=position_rows,
    newer_by="sequence",
    latest_per_key=True,
)


BAR_ROW = RowSpec.of(
    BarClosed,
    {
        "instrument": "instrument",
        "period": "period",
        "close_time": "envelope.ts_event",
        "open": "open",
        "high": "high",
        "low": "low",
        "close": "close",
        "volume": "volume",
        "bid": "bid",
        "ask": "ask",
        "event_id": "envelope.event_id",
        "kafka_topic": "@topic",
        "kafka_partition": "@partition",
        "kafka_offset": "@offset",
        "ts_ingested": "envelope.ts_ingested",
    },
)


MARKET_BARS = Projection(
    name="market_bars",
    topics=(RAW_MARKET,),
    columns=BAR_ROW.columns,
    key=("instrument", "period", "close_time"),
    partition_by="close_time",
    to_rows=BAR_ROW.to_rows,
    row=BAR_ROW,
)
