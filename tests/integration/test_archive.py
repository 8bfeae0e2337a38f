"""Monthly partitions and the archive: the projector makes each month's partition as its rows
come; archiving moves old months to files and unarchiving brings them back, row for row, with
rows that came meanwhile kept once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from core.kafka import producer_config
from core.settings import Settings
from projections import TRADES
from projections.archive import archive, months_back, parse_month, unarchive
from projections.errors import ArchiveError
from projections.migrate import migrate
from projections.projector import Projector
from projections.rebuild import log_end
from schemas.codec import default_codec
from schemas.events import EventId, TradeClosed, TradeId
from tests.fixtures.bulk import trades
from tests.fixtures.pipeline import query
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

CODEC = default_codec()


def closed(n: int, exit_time: datetime) -> TradeClosed:
    (template,) = trades(1)
    return dataclasses.replace(
        template,
        envelope=dataclasses.replace(template.envelope, event_id=EventId(f"tc-{n}")),
        trade_id=TradeId(f"T-{n}"),
        entry_time=exit_time - timedelta(minutes=5),
        exit_time=exit_time,
    )


def project(settings: Settings, *events: TradeClosed) -> None:
    producer = Producer(producer_config(settings))
    for e in events:
        producer.produce(settings.topic("derived.trades"), key=e.account.encode(),
                         value=CODEC.encode(e))  # fmt: skip
    assert producer.flush(30) == 0
    Projector(settings, TRADES, CODEC).catch_up(log_end(settings, TRADES.topics))


def table(settings: Settings) -> list[tuple[Any, ...]]:
    return query(settings, "SELECT * FROM trades_v1 ORDER BY trade_id")


def partitions(settings: Settings) -> list[str]:
    rows = query(
        settings,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'trades_v1'::regclass ORDER BY 1",
    )
    return [name for (name,) in rows]


def test_old_months_move_out_to_files_and_back_row_for_row(settings: Settings) -> None:
    migrate(settings)
    months = [datetime(2026, m, 10, 15, tzinfo=UTC) for m in (7, 8, 9)]
    project(settings, *(closed(n, months[n % 3] + timedelta(hours=n)) for n in range(30)))
    assert partitions(settings) == ["trades_v1_202607", "trades_v1_202608", "trades_v1_202609"]
    before = table(settings)
    assert len(before) == 30

    said: list[str] = []
    moved = archive(settings, TRADES, date(2026, 9, 1), say=said.append)
    assert [(m.month, m.rows) for m in moved] == [(date(2026, 7, 1), 10), (date(2026, 8, 1), 10)]
    assert all(m.path.is_file() and m.path.suffixes == [".csv", ".gz"] for m in moved)
    assert partitions(settings) == ["trades_v1_202609"]
    assert query(settings, "SELECT count(*) FROM trades") == [(10,)]
    assert query(settings, "SELECT month, rows FROM projection_archive ORDER BY 1") == [
        (date(2026, 7, 1), 10), (date(2026, 8, 1), 10),
    ]  # fmt: skip
    assert archive(settings, TRADES, date(2026, 9, 1)) == []  # nothing left to move

    late = closed(99, datetime(2026, 7, 31, 23, 59, tzinfo=UTC))  # a late July trade
    project(settings, late)
    assert "trades_v1_202607" in partitions(settings)

    back = unarchive(settings, TRADES, [date(2026, 7, 1)])
    assert [(m.month, m.rows) for m in back] == [(date(2026, 7, 1), 10)]
    assert not moved[0].path.exists() and moved[1].path.exists()
    unarchive(settings, TRADES)
    after = table(settings)
    assert [r for r in after if r[0] != "T-99"] == before  # every column, projected_at too
    assert len(after) == 31
    assert query(settings, "SELECT count(*) FROM projection_archive") == [(0,)]
    with pytest.raises(ArchiveError, match="no archived month 2026-08"):
        unarchive(settings, TRADES, [date(2026, 8, 1)])


def test_months_are_parsed_and_counted_back() -> None:
    assert parse_month("2026-09") == date(2026, 9, 1)
    with pytest.raises(ArchiveError, match="not a month"):
        parse_month("09/2026")
    assert months_back(1, date(2026, 11, 25)) == date(2026, 11, 1)
    assert months_back(12, date(2026, 11, 25)) == date(2025, 12, 1)
    assert months_back(3, date(2026, 2, 1)) == date(2025, 12, 1)


def test_a_rebuild_from_a_moment_projects_only_what_was_logged_since(settings: Settings) -> None:
    from projections.rebuild import rebuild

    migrate(settings)
    project(settings, *(closed(n, datetime(2026, 9, 1, 15, tzinfo=UTC)) for n in range(3)))
    moment = datetime.now(UTC)
    # log timestamps are milliseconds: the next records must be logged in a later one
    wait_for(lambda: datetime.now(UTC) > moment + timedelta(milliseconds=2), timeout=1)
    project(settings, *(closed(n, datetime(2026, 9, 2, 15, tzinfo=UTC)) for n in range(3, 5)))

    outcome = rebuild(settings, TRADES, since=moment, say=lambda _: None)
    assert outcome.state == "built"  # it lacks the earlier trades: not switched
    assert outcome.parity is not None and outcome.parity.only_old == 3
    assert query(settings, "SELECT trade_id FROM trades_v2 ORDER BY 1") == [("T-3",), ("T-4",)]
    assert query(settings, "SELECT count(*) FROM trades") == [(5,)]  # v1 still serves
