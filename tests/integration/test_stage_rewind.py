"""Rewinding a stage with state (``fillstream offsets rewind streams.matching --to-datetime T``)
against a real broker, worker and projector: the stage's state is rebuilt as it was at T, so
exactly the executions logged after T are derived again, identically, with the positions T
left open; an interrupted rebuild marks the changelog until it is run again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from control.offsets import group_positions
from core.settings import Settings
from fillstream.commands.offsets import main as offsets_main
from schemas.codec import default_codec
from schemas.events import TradeClosed
from streams.errors import UnfinishedRewindError
from streams.runtime.deriver import REWIND_MARKER, Deriver
from streams.stages import STAGES
from tests.fixtures.pipeline import execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def read_all(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every committed record of a catalog topic, (key, value), partition by partition."""
    name = settings.topic(topic)
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "tests-read",
                         "isolation.level": "read_committed", "enable.partition.eof": True,
                         "enable.auto.commit": False})  # fmt: skip
    try:
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
        records: list[tuple[bytes | None, bytes | None]] = []
        ended: set[int | None] = set()
        while len(ended) < len(partitions):
            message = consumer.poll(5.0)
            if message is None:
                continue
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition())
            elif error is None:
                records.append((message.key(), message.value()))
        return records
    finally:
        consumer.close()


def derived_trades(settings: Settings) -> list[tuple[str, object, object]]:
    codec = default_codec()
    out: list[tuple[str, object, object]] = []
    for _, value in read_all(settings, "derived.trades"):
        event = codec.decode(value or b"")
        assert isinstance(event, TradeClosed)
        out.append((event.trade_id, event.entry_price, event.net_pnl))
    return out


def trade_rows(settings: Settings) -> list[tuple[object, ...]]:
    return query(settings, "SELECT trade_id, entry_price, net_pnl FROM trades ORDER BY trade_id")


def test_a_matching_rewind_by_datetime_derives_exactly_what_came_after_again(
    settings: Settings, pipeline: Pipeline, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    before = [
        execution("a1-in", "buy", "21000", ts="2026-09-22T14:00:00Z"),
        execution("a1-out", "sell", "21002", ts="2026-09-22T14:00:30Z"),
        execution("a2-in", "buy", "21001", ts="2026-09-22T14:01:00Z"),
        execution("a2-out", "sell", "21000", ts="2026-09-22T14:01:30Z"),
        execution("o-in", "buy", "21005", ts="2026-09-22T14:02:00Z"),  # left open at T
    ]
    assert post(settings, before)[0] == 202
    wait_for(lambda: len(trade_rows(settings)) == 2, timeout=90, message="no trades")
    wait_for(lambda: query(settings, "SELECT quantity FROM positions") == [(1,)], timeout=60,
             message="the open position was not projected")  # fmt: skip
    moment = datetime.now(UTC)
    after = [
        execution("o-out", "sell", "21009", ts="2026-09-22T14:03:00Z"),  # closes the open lot
        execution("b1-in", "sell", "21010", ts="2026-09-22T14:04:00Z"),
        execution("b1-out", "buy", "21008", ts="2026-09-22T14:04:30Z"),
    ]
    assert post(settings, after)[0] == 202
    wait_for(lambda: len(trade_rows(settings)) == 4, timeout=90, message="no later trades")
    first = derived_trades(settings)
    rows = trade_rows(settings)
    assert len(first) == 4

    pipeline.worker.stop()
    assert offsets_main(["rewind", "streams.matching", "--to-datetime", moment.isoformat(),
                         "--execute"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "state rebuilt from 5 records" in out  # the executions before T
    (position,) = group_positions(settings, "streams.matching")
    assert sum(p.committed or 0 for p in position.partitions) == 5
    changelog = read_all(settings, "streams-books-changelog")
    assert [v for k, v in changelog if k == REWIND_MARKER] == [b"1", None]  # set, then cleared

    pipeline.worker.start()
    wait_for(
        lambda: len(derived_trades(settings)) == 6,
        timeout=90,
        interval=0.5,
        message=f"expected 2 trades derived again, have {derived_trades(settings)}",
    )
    again = derived_trades(settings)
    # exactly the trades that closed after T, derived again identically: the one closing the lot
    # left open at T has its entry from before T (the rebuilt state), not a new short position
    assert sorted(again[4:]) == sorted(first[2:])
    assert any(entry == 21005 for _, entry, _ in again[4:])
    assert trade_rows(settings) == rows  # the projection is unchanged: the same trades
    assert query(settings, "SELECT count(*) FROM positions") == [(0,)]  # all flat again


def test_an_interrupted_state_rebuild_marks_the_changelog_until_run_again(
    settings: Settings, pipeline: Pipeline
) -> None:
    events = [execution(f"x{n}", "buy" if n % 2 == 0 else "sell", "21000",
                        ts=f"2026-09-22T14:{n:02d}:00Z") for n in range(20)]  # fmt: skip
    assert post(settings, events)[0] == 202
    wait_for(lambda: len(query(settings, "SELECT 1 FROM trades")) == 10, timeout=90,
             message="no trades")  # fmt: skip
    pipeline.worker.stop()
    (position,) = group_positions(settings, "streams.matching")
    targets = {p.partition: p.committed or 0 for p in position.partitions}

    stop = threading.Event()
    deriver = Deriver(settings, STAGES["matching"](settings, default_codec()), batch_size=2)

    def interrupt(done: int, total: int) -> None:
        if done >= 4:
            stop.set()

    with pytest.raises(UnfinishedRewindError, match="interrupted"):
        deriver.replay(targets, progress=interrupt, stop=stop)
    changelog = read_all(settings, "streams-books-changelog")
    assert [v for k, v in changelog if k == REWIND_MARKER][-1] == b"1"  # still marked

    replayed = Deriver(settings, STAGES["matching"](settings, default_codec())).replay(targets)
    assert replayed == 20
    changelog = read_all(settings, "streams-books-changelog")
    assert [v for k, v in changelog if k == REWIND_MARKER][-1] is None  # cleared
    pipeline.worker.start()
    assert post(settings, [execution("late", "buy", "21000", ts="2026-09-22T15:00:00Z")])[0] == 202
    wait_for(lambda: query(settings, "SELECT quantity FROM positions") == [(1,)], timeout=90,
             message="the worker did not go on from the rebuilt state")  # fmt: skip
    assert len(query(settings, "SELECT 1 FROM trades")) == 10
