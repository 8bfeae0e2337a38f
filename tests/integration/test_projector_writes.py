"""How a projector writes a batch: an append-only projection copies it straight into its table,
and a batch that meets a key already there goes through the staging table and the projection's
conflict rule instead, with the same rows as a result. Rows read straight from payloads and rows
made from decoded events are stored alike: numbers as PostgreSQL's ``trim_scale`` stores them,
arrays of text as PostgreSQL reads the row reader's literals."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import psycopg
import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.kafka import producer_config
from core.settings import Settings
from projections import TRADES
from projections.migrate import migrate
from projections.projector import Projector, trim_scale
from projections.rebuild import log_end
from schemas.codec import default_codec
from schemas.reader import array_literal
from tests.fixtures.bulk import trades
from tests.fixtures.pipeline import query

pytestmark = pytest.mark.integration

CODEC = default_codec()


def publish(settings: Settings, numbers: range) -> None:
    events = list(trades(numbers.stop))
    producer = Producer(producer_config(settings))
    for n in numbers:
        e = events[n]
        producer.produce(settings.topic("derived.trades"), key=e.account.encode(),
                         value=CODEC.encode(e))  # fmt: skip
    assert producer.flush(30) == 0


def test_a_batch_meeting_rows_already_there_keeps_them_and_adds_the_rest(
    settings: Settings,
) -> None:
    migrate(settings)
    projector = Projector(settings, TRADES, CODEC, batch_size=1000)

    def project() -> None:
        projector.catch_up(log_end(settings, TRADES.topics))

    publish(settings, range(0, 10))
    project()
    assert projector._direct  # copied straight: no key was there
    first = dict(query(settings, "SELECT trade_id, kafka_offset FROM trades_v1"))

    publish(settings, range(5, 15))  # T-5 … T-9 again (the same trades logged twice), then new
    project()
    assert not projector._direct  # the straight copy failed on T-5: the staging way

    publish(settings, range(15, 20))
    project()
    assert projector._direct  # that batch met no key already there: straight again
    publish(settings, range(20, 25))
    project()

    rows = query(settings, "SELECT trade_id, kafka_offset FROM trades_v1")
    assert sorted(t for t, _ in rows) == sorted(f"T-{n}" for n in range(25))  # each once
    offsets = dict(rows)
    assert all(offsets[t] == o for t, o in first.items())  # the first of a key is kept
    # both ways store numbers trimmed, the Avro scale's zeros gone
    prices = query(
        settings,
        "SELECT DISTINCT entry_price::text, commission::text, ticks::text FROM trades_v1"
        " WHERE trade_id IN ('T-1', 'T-3', 'T-13', 'T-23')",
    )
    assert sorted(prices) == [
        ("21000.5", "4.18", "5"),
        ("21001", "4.18", "5"),
        ("21003.5", "4.18", "5"),
        ("21006", "4.18", "5"),
    ]


def test_a_failing_batch_leaves_nothing_behind(settings: Settings) -> None:
    migrate(settings)
    publish(settings, range(0, 5))
    projector = Projector(settings, TRADES, CODEC, batch_size=1000)
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {settings.namespace}")
        conn.execute("ALTER TABLE trades_v1 ADD CONSTRAINT no_t3 CHECK (trade_id <> 'T-3')")
        with pytest.raises(psycopg.errors.CheckViolation):
            projector.catch_up(log_end(settings, TRADES.topics))
        assert query(settings, "SELECT count(*) FROM trades_v1") == [(0,)]
        assert query(
            settings, "SELECT count(*) FROM projection_offsets WHERE projection = 'trades'"
        ) == [(0,)]
        conn.execute("ALTER TABLE trades_v1 DROP CONSTRAINT no_t3")
    projector.catch_up(log_end(settings, TRADES.topics))
    assert query(settings, "SELECT count(*) FROM trades_v1") == [(5,)]


finite = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 60
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(finite, min_size=1, max_size=40))
def test_numbers_are_trimmed_as_postgresql_trims_them(
    settings: Settings, values: list[Decimal]
) -> None:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        expected = conn.execute(
            "SELECT array_agg(trim_scale(v)::text ORDER BY n)"
            " FROM unnest(%s::numeric[]) WITH ORDINALITY AS u (v, n)",
            (values,),
        ).fetchone()
        ours = conn.execute(
            "SELECT array_agg(v::text ORDER BY n)"
            " FROM unnest(%s::numeric[]) WITH ORDINALITY AS u (v, n)",
            ([trim_scale(v) for v in values],),
        ).fetchone()
    assert ours == expected
    for value in values:
        trimmed = trim_scale(value)
        assert trimmed == value
        exponent = trimmed.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < 0:
            assert trimmed.as_tuple().digits[-1] != 0  # no zero left after the point


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\x00")), max_size=6
    )
)
def test_array_literals_read_back_as_the_items(settings: Settings, items: list[str | None]) -> None:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT %s::text::text[]", (array_literal(items),)).fetchone()
    assert row == (items,)


def test_rows_read_straight_and_rows_made_from_events_are_stored_alike(
    settings: Settings,
) -> None:
    migrate(settings)
    publish(settings, range(0, 6))
    straight = Projector(settings, TRADES, CODEC, batch_size=1000)
    straight.catch_up(log_end(settings, TRADES.topics))
    assert straight._read_row is not None
    made = dataclasses.replace(TRADES, row=None).at(2)
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {settings.namespace}")
        conn.execute("CREATE TABLE trades_v2 (LIKE trades_v1 INCLUDING ALL)")
    Projector(settings, made, CODEC, batch_size=1000).catch_up(log_end(settings, TRADES.topics))
    columns = ", ".join(c for c in TRADES.columns)
    texts = f"SELECT ({columns})::text FROM {{}} ORDER BY trade_id"
    assert len(query(settings, texts.format("trades_v1"))) == 6
    assert query(settings, texts.format("trades_v1")) == query(settings, texts.format("trades_v2"))
