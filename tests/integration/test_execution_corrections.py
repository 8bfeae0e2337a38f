"""Corrections and busts on the real broker: the matching stage (its ``Deriver``, transactions and
changelog) publishes a price amendment as the trade's next revision with lineage, a bust as a
voided trade, after a restart that reads the journal back from the changelog alone; and a
replay of the raw log from fresh state derives the very same events."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from core.kafka import ensure_topics
from core.settings import Settings
from domain.contracts import spec_for
from domain.corrections import amended
from domain.matching import Book, apply
from schemas.catalog import DERIVED_POSITIONS, DERIVED_TRADES, RAW_EXECUTIONS
from schemas.codec import default_codec
from schemas.events import ExecutionBusted, ExecutionCorrected, ExecutionReported, TradeClosed
from streams.runtime.deriver import Deriver
from streams.stages.matching import BOOKS_TOPIC, MatchExecutions
from tests.fixtures.corrections import busted, corrected
from tests.fixtures.services import free_port, wait_for
from tests.fixtures.stubs import buy, sell
from tests.integration.test_replay import by_key, copy, records

pytestmark = pytest.mark.integration

CODEC = default_codec()
Event = ExecutionReported | ExecutionCorrected | ExecutionBusted


def produce(settings: Settings, events: Sequence[Event]) -> None:
    """``events`` to ``raw.executions``, keyed like the bridge keys them."""
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "acks": "all"})
    for event in events:
        key = f"{event.account}|{event.instrument}".encode()
        producer.produce(settings.topic(RAW_EXECUTIONS), key=key, value=CODEC.encode(event))
    assert producer.flush(30) == 0


@contextmanager
def matching(settings: Settings) -> Iterator[None]:
    """The matching stage running, as the worker runs it, until the block ends."""
    stage = MatchExecutions.from_settings(settings, CODEC)
    deriver = Deriver(settings, stage)
    stop = threading.Event()
    thread = threading.Thread(target=deriver.run, args=(stop,), name="matching", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the matching stage did not stop"
        if stage.feed is not None:
            stage.feed.close()


def trades(settings: Settings) -> list[TradeClosed]:
    found = []
    for rows in records(settings, DERIVED_TRADES).values():
        for _, value in rows:
            trade = CODEC.decode(value)
            assert isinstance(trade, TradeClosed)
            found.append(trade)
    return found


def reference(executions: Sequence[ExecutionReported]) -> list[TradeClosed]:
    """What matching the executions from scratch gives (no market context)."""
    book, closed = Book(), []
    for execution in executions:
        book, found = apply(book, execution, spec_for(execution.instrument))
        closed += found
    return closed


def test_corrections_revise_trades_across_a_restart_and_replay_identically(
    settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(settings, local_state=False)  # state from the changelog alone
    a_in, a_out = buy(price="21000", account="A"), sell(price="21010", account="A")
    b_in, b_out = sell(price="21000", account="B"), buy(price="20990", account="B")
    produce(settings, [a_in, a_out, b_in, b_out])
    with matching(settings):
        wait_for(lambda: len(trades(settings)) == 2, timeout=60, message="no trades derived")
    first = {t.account: t for t in trades(settings)}
    journal = [k for rows in records(settings, BOOKS_TOPIC).values() for k, _ in rows]
    assert sum(1 for k in journal if k and k.startswith(b"entry|")) == 4

    fix = corrected(a_out, price=Decimal("21005"), reason="price adjusted")
    bust = busted(b_out, reason="trade broken by the exchange")
    produce(settings, [fix, bust])
    with matching(settings):  # a new stage: the journal is read back from the changelog
        wait_for(lambda: len(trades(settings)) == 4, timeout=60, message="no revisions")
    revisions = {t.account: t for t in trades(settings) if t.revision}

    amendment = revisions["A"]
    assert (amendment.trade_id, amendment.revision, amendment.voided) == (
        first["A"].trade_id,
        1,
        False,
    )
    assert amendment.supersedes == first["A"].envelope.event_id
    assert amendment.correction_id == fix.envelope.event_id
    (expected,) = reference([a_in, amended(a_out, fix)])
    assert (amendment.exit_price, amendment.gross_pnl, amendment.net_pnl) == (
        expected.exit_price,
        expected.gross_pnl,
        expected.net_pnl,
    )
    assert amendment.net_pnl == Decimal("95.82")  # 5 points of NQ less $4.18

    void = revisions["B"]
    assert void.voided and void.revision == 1
    assert void.supersedes == first["B"].envelope.event_id
    assert void.correction_id == bust.envelope.event_id
    assert void.net_pnl == first["B"].net_pnl  # a copy of the revision it voids

    replay = dataclasses.replace(
        settings, namespace=settings.namespace + "r", worker_port=free_port(), home=tmp_path
    )
    ensure_topics(replay)
    copy(settings, replay, RAW_EXECUTIONS)
    with matching(replay):
        wait_for(lambda: len(trades(replay)) == 4, timeout=60, message="the replay derived less")
    for topic in (DERIVED_TRADES, DERIVED_POSITIONS):
        assert by_key(replay, topic) == by_key(settings, topic), topic
