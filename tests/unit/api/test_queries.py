"""The read API's queries without a database: parameters checked and named, keyset cursors that
round-trip whatever the values, JSON forms of decimals, times and intervals, the SQL of a page,
and the OpenAPI document made from the declarations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.endpoints import ENDPOINTS, MAX_LIMIT, TRADES, Kind
from api.openapi import document
from api.queries import (
    RESERVED,
    QueryError,
    decode_cursor,
    encode_cursor,
    page,
    parse,
    statement,
    to_json,
)

times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)


@given(at=times, trade_id=st.text())
def test_a_cursor_round_trips(at: datetime, trade_id: str) -> None:
    token = encode_cursor(TRADES, (at, trade_id))
    assert decode_cursor(TRADES, token) == (at, trade_id)
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token


@given(token=st.text())
def test_anything_else_is_not_a_cursor(token: str) -> None:
    try:
        decode_cursor(TRADES, token)
    except QueryError as e:
        assert e.parameter == "cursor"


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [({"limit": "0"}, "limit", "between 1"), ({"limit": str(MAX_LIMIT + 1)}, "limit", "between"),
     ({"limit": "ten"}, "limit", "whole number"), ({"from": "yesterday"}, "from", "ISO 8601"),
     ({"to": "2026-09-22T14:00:00"}, "to", "time zone"), ({"colour": "red"}, "colour", "unknown"),
     ({"cursor": "e30"}, "cursor", "not a cursor")],
)  # fmt: skip
def test_a_bad_parameter_is_named_with_the_reason(
    params: dict[str, str], parameter: str, words: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse(TRADES, params)
    assert caught.value.parameter == parameter and words in caught.value.reason


def test_the_json_forms() -> None:
    assert to_json(Kind.DECIMAL, Decimal("-402.58")) == "-402.58"
    assert to_json(Kind.TIMESTAMP, datetime(2026, 9, 22, 14, tzinfo=UTC)) == (
        "2026-09-22T14:00:00.000000Z"
    )
    assert to_json(Kind.SECONDS, timedelta(minutes=1, microseconds=5)) == "60.000005"
    assert to_json(Kind.SECONDS, timedelta(days=1)) == "86400"
    assert to_json(Kind.SECONDS, timedelta(0)) == "0"
    assert to_json(Kind.TEXTS, ("a", "b")) == ["a", "b"] and to_json(Kind.DECIMAL, None) is None
    assert to_json(Kind.NUMBER, 0.25) == 0.25 and to_json(Kind.NUMBER, float("inf")) == "Infinity"
    assert to_json(Kind.NUMBER, float("-inf")) == "-Infinity"
    assert to_json(Kind.NUMBER, float("nan")) == "NaN"
    assert to_json(Kind.OBJECT, {"account": "Sim101"}) == {"account": "Sim101"}


def test_a_page_asks_one_row_more_and_gives_the_next_cursor_only_then() -> None:
    query = parse(TRADES, {"account": "Sim101", "limit": "2", "from": "2026-09-22T14:00:00Z"})
    text, args = statement(query)
    assert args == {"f0": "Sim101", "f1": datetime(2026, 9, 22, 14, tzinfo=UTC)}
    rendered = text.as_string(None)
    assert 'ORDER BY "exit_time" DESC, "trade_id" DESC LIMIT 3' in rendered
    later = parse(
        TRADES, {"cursor": encode_cursor(TRADES, (datetime(2026, 9, 22, tzinfo=UTC), "t"))}
    )
    rendered = statement(later)[0].as_string(None)
    assert '("exit_time", "trade_id") < (%(after0)s, %(after1)s)' in rendered

    def row(n: int) -> tuple[object, ...]:
        values: dict[str, object] = {c.name: None for c in TRADES.columns}
        values.update(trade_id=f"t{n}", exit_time=datetime(2026, 9, 22, 15 - n, tzinfo=UTC),
                      execution_ids=())  # fmt: skip
        return tuple(values[c.name] for c in TRADES.columns)

    full = page(query, [row(1), row(2), row(3)])
    assert [t["trade_id"] for t in full["items"]] == ["t1", "t2"]
    assert decode_cursor(TRADES, full["next"]) == (datetime(2026, 9, 22, 13, tzinfo=UTC), "t2")
    assert page(query, [row(1), row(2)])["next"] is None


def test_the_openapi_document_describes_every_endpoint_and_column() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    for endpoint in ENDPOINTS:
        operation = doc["paths"][endpoint.path]["get"]
        parameters = {p["name"] for p in operation["parameters"]}
        assert parameters == {f.parameter for f in endpoint.filters} | set(RESERVED)
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"][
            "properties"]["items"]["items"]["$ref"]  # fmt: skip
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert list(schema["properties"]) == [c.name for c in endpoint.columns]
        nullable = {n for n, s in schema["properties"].items()
                    if {"type": "null"} in s.get("oneOf", [])}  # fmt: skip
        assert nullable == {c.name for c in endpoint.columns if c.nullable}


@given(pnl=st.decimals(allow_nan=False, allow_infinity=False), trade_id=st.text())
def test_a_sorted_page_keys_its_cursor_by_the_sort(pnl: Decimal, trade_id: str) -> None:
    query = parse(TRADES, {"sort": "net_pnl", "direction": "asc"})
    assert query.order == ("net_pnl", "trade_id") and not query.descending
    token = encode_cursor(TRADES, (pnl, trade_id), query.order)
    again = parse(TRADES, {"sort": "net_pnl", "direction": "asc", "cursor": token})
    assert again.after == (pnl, trade_id)
    text, args = statement(again)
    rendered = text.as_string(None)
    assert '("net_pnl", "trade_id") > (%(after0)s, %(after1)s)' in rendered
    assert rendered.endswith('ORDER BY "net_pnl" ASC, "trade_id" ASC LIMIT 101')
    assert args == {"after0": pnl, "after1": trade_id}
    # a cursor of another sort is not taken
    with pytest.raises(QueryError) as caught:
        parse(TRADES, {"cursor": token, "sort": "exit_time"})
    assert caught.value.parameter == "cursor"


def test_only_columns_never_null_sort() -> None:
    assert "net_pnl" in TRADES.sortable and "exit_time" in TRADES.sortable
    assert "r_multiple" not in TRADES.sortable  # nullable: a keyset cannot pass its nulls
    assert "execution_ids" not in TRADES.sortable
    for bad, parameter in (({"sort": "r_multiple"}, "sort"), ({"direction": "up"}, "direction")):
        with pytest.raises(QueryError) as caught:
            parse(TRADES, bad)
        assert caught.value.parameter == parameter
