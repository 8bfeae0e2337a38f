"""The performance projection keeps the latest snapshot of each scope and window: a newer one
replaces the row, a redelivered older one does not, and several in one batch leave the newest."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from confluent_kafka import Producer

from core.settings import Settings
from domain.performance.figures import TradeResult
from domain.performance.ledger import Ledger
from domain.performance.snapshots import Scope, snapshot
from projections import PERFORMANCE
from projections.migrate import migrate
from projections.projector import EVENTS, Projector
from projections.rebuild import log_end
from schemas.codec import default_codec
from schemas.events import MetricScope, MetricWindow, PerformanceSnapshot
from streams.stages.performance import SUPERSEDES
from tests.fixtures.pipeline import query
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

CODEC = default_codec()


def snapshot_of(account: str, scope_trades: int, net: str) -> PerformanceSnapshot:
    ledger = Ledger()
    ledger.add(
        TradeResult(
            trade_id=f"t-{account}-{scope_trades}",
            exit_time=datetime(2026, 9, 22, 14, tzinfo=UTC),
            net=Decimal(net),
            gross=Decimal(net),
            currency="USD",
        )
    )
    scope = Scope(kind=MetricScope.ACCOUNT, key=account, account=account)
    made = snapshot(scope, MetricWindow.ALL_TIME, "", ledger.all_time(), scope_trades)
    return replace(made, scope_trades=scope_trades)


@pytest.fixture
def projector(settings: Settings) -> Iterator[None]:
    migrate(settings)
    stop = threading.Event()
    thread = threading.Thread(
        target=Projector(settings, PERFORMANCE, CODEC, batch_size=50).run, args=(stop,)
    )
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def publish(settings: Settings, *snapshots: PerformanceSnapshot, headers: bool = False) -> None:
    """The snapshots on derived.performance; with ``headers`` as the performance stage writes
    them (``supersedes``: the projector decodes only the newest of a key in a batch)."""
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "acks": "all"})
    for s in snapshots:
        order = f"{s.definitions_version}:{s.scope_trades}".encode()
        producer.produce(
            settings.topic("derived.performance"),
            key=f"account:{s.scope_key}|all_time|".encode(),
            value=CODEC.encode(s),
            headers=[(SUPERSEDES, order)] if headers else [],
        )
    assert producer.flush(30) == 0


def row(settings: Settings, account: str) -> tuple[object, ...] | None:
    rows = query(
        settings,
        "SELECT scope_trades, net_profit, snapshot_id FROM performance"
        " WHERE scope = 'account' AND scope_key = %s AND time_window = 'all_time'",
        (account,),
    )
    return rows[0] if rows else None


def test_the_newest_snapshot_wins_and_an_older_one_never_rolls_back(
    settings: Settings, projector: None
) -> None:
    newer = snapshot_of("A", 2, "10")
    publish(settings, newer)
    wait_for(lambda: row(settings, "A") is not None, timeout=60, message="nothing projected")
    assert row(settings, "A") == (2, Decimal("10"), newer.snapshot_id)

    publish(settings, snapshot_of("A", 1, "5"), snapshot_of("marker", 1, "1"))
    wait_for(lambda: row(settings, "marker") is not None, timeout=60, message="marker missing")
    assert row(settings, "A") == (2, Decimal("10"), newer.snapshot_id)  # not rolled back

    publish(settings, snapshot_of("A", 4, "40"), snapshot_of("A", 3, "30"))  # one batch
    wait_for(
        lambda: (r := row(settings, "A")) is not None and r[0] == 4,
        timeout=60,
        message=f"expected the snapshot of 4 trades, have {row(settings, 'A')}",
    )
    assert row(settings, "A") == (4, Decimal("40"), snapshot_of("A", 4, "40").snapshot_id)


@pytest.mark.parametrize("headers", [False, True])
def test_in_one_batch_the_newest_wins_with_or_without_the_supersedes_header(
    settings: Settings, headers: bool
) -> None:
    migrate(settings)
    counted = EVENTS.labels("performance", "superseded")
    before = counted._value.get()
    publish(settings, snapshot_of("B", 5, "50"), snapshot_of("B", 7, "70"),
            snapshot_of("B", 6, "60"), snapshot_of("C", 1, "1"), headers=headers)  # fmt: skip
    Projector(settings, PERFORMANCE, CODEC, batch_size=50).catch_up(
        log_end(settings, PERFORMANCE.topics)
    )
    assert row(settings, "B") == (7, Decimal("70"), snapshot_of("B", 7, "70").snapshot_id)
    assert row(settings, "C") is not None
    superseded = counted._value.get() - before
    assert superseded == (2 if headers else 0)  # with the header, 5 and 6 are never decoded
