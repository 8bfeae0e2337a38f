"""Rebuilding the trades and performance projections from the log (``rebuild`` into version 2
while version 1, already caught up, serves), against a raw PostgreSQL COPY of the same rows in
the same run; and the time from ``rebuild`` to the view switch.

The baseline COPYs the rows the projection makes of those events (computed before the clock
starts: no Kafka, no decoding) in one transaction into an empty table shaped like the
projection's, with its indexes; for performance, whose many snapshots of one key become one row,
into one without its primary key (the rows repeat keys)."""

from __future__ import annotations

import dataclasses
import io
import os
import time
from collections.abc import Iterator
from contextlib import redirect_stderr
from decimal import Decimal
from typing import Any

from confluent_kafka import Producer
from psycopg import sql

from bench.report import Result
from core.database import connect
from core.kafka import ensure_topics, producer_config
from core.settings import Settings
from domain.performance.figures import TradeResult
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, snapshot
from projections import PERFORMANCE, TRADES
from projections.migrate import migrate
from projections.projection import Location, Projection
from projections.projector import Projector
from projections.rebuild import log_end, rebuild
from schemas.codec import default_codec
from schemas.events import (
    Event,
    EventId,
    MetricScope,
    MetricWindow,
    PerformanceSnapshot,
)
from streams.stages.performance import SUPERSEDES
from tests.fixtures.bulk import START, trades

ACCOUNTS = 1000
"""Performance scopes the snapshots cycle over (the final table's rows)."""


def snapshots(count: int) -> Iterator[Event]:
    templates = []
    for a in range(ACCOUNTS):
        ledger = Ledger()
        ledger.add(TradeResult(trade_id=f"t-{a}", exit_time=START, net=Decimal("20.82"),
                               gross=Decimal(25), currency="USD"))  # fmt: skip
        scope = Scope(kind=MetricScope.ACCOUNT, key=f"A{a}", account=f"A{a}")
        templates.append(snapshot(scope, MetricWindow.ALL_TIME, "", ledger.all_time(), 1))
    for n in range(count):
        template = templates[n % ACCOUNTS]
        yield dataclasses.replace(
            template,
            envelope=dataclasses.replace(template.envelope, event_id=EventId(f"ps-{n}")),
            scope_trades=n // ACCOUNTS + 1,
            snapshot_id=f"ps-{n}",
        )


def publish(settings: Settings, topic: str, events: Iterator[Any], key: str) -> None:
    codec = default_codec()
    producer = Producer(producer_config(settings))
    name = settings.topic(topic)
    for event in events:
        value = codec.encode(event)
        headers: list[tuple[str, str | bytes | None]] = []
        if isinstance(event, PerformanceSnapshot):  # as the performance stage writes them
            order = f"{event.definitions_version}:{event.scope_trades}"
            headers.append((SUPERSEDES, order.encode()))
        while True:
            try:
                producer.produce(
                    name, key=str(getattr(event, key)).encode(), value=value, headers=headers
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0


def copy_seconds(settings: Settings, projection: Projection, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to COPY ``rows`` into an empty table shaped like the projection's."""
    like = "INCLUDING DEFAULTS" if projection.newer_by else "INCLUDING ALL"
    with connect(settings) as conn:
        table = sql.Identifier(f"copy_{projection.name}")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} " + like + ")").format(
            table, sql.Identifier(projection.table)))  # fmt: skip
        conn.commit()
        columns = sql.SQL(", ").join(map(sql.Identifier, projection.columns))
        started = time.perf_counter()
        with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.commit()
    return elapsed


def measure(
    settings: Settings, projection: Projection, events: list[Any], key: str
) -> list[Result]:
    count = len(events)
    topic = projection.topics[0]
    print(f"rebuild: publishing {count:,} events to {topic} ...", flush=True)
    publish(settings, topic, iter(events), key)
    rows = [r for n, e in enumerate(events) for r in projection.to_rows(e, Location(topic, 0, n))]
    del events
    baseline_seconds = copy_seconds(settings, projection, rows)
    baseline = len(rows) / baseline_seconds
    del rows
    # version 1 serves, caught up, as it would be under a running projector
    Projector(settings, projection, default_codec(), batch_size=5000).catch_up(
        log_end(settings, projection.topics)
    )
    print(f"rebuild: rebuilding {projection.name} ...", flush=True)
    with redirect_stderr(io.StringIO()):
        outcome = rebuild(settings, projection, say=lambda _: None)
    assert outcome.state == "live" and outcome.parity is not None and outcome.parity.same
    rate = count / outcome.build_seconds
    return [
        Result(
            name=f"rebuild {projection.name} events/s",
            value=rate,
            unit="/s",
            baseline=baseline,
            baseline_name=f"raw PostgreSQL COPY of the same {projection.name} rows",
            ratio=rate / baseline,
            goal=">= 50 % of the raw COPY",
            met=rate / baseline >= 0.5,
        ),
        Result(
            name=f"rebuild {projection.name}: s to switch",
            value=outcome.seconds,
            unit="s",
            baseline=baseline_seconds,
            baseline_name=f"raw PostgreSQL COPY of the same {projection.name} rows, seconds",
            ratio=outcome.seconds / baseline_seconds,
            goal="report (no goal set)",
            met=True,
        ),
    ]


def run(base: Settings) -> list[Result]:
    count = int(os.environ.get("FILLSTREAM_BENCH_REBUILD_EVENTS", "1000000"))
    settings = dataclasses.replace(base, namespace=f"{base.namespace}rebuild")
    ensure_topics(settings)
    migrate(settings)
    return [
        *measure(settings, TRADES, list(trades(count)), "account"),
        *measure(settings, PERFORMANCE, list(snapshots(count)), "scope_key"),
    ]
