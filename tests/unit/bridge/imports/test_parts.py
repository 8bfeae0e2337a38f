"""A large Executions export read in parts by worker processes: the same result as read whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import UnrecognizedHeaderError
from bridge.imports import DateOrder, parse_executions
from bridge.imports.grid import EXECUTION_COLUMNS, read_grid
from bridge.imports.parsed import Parsed, encoded
from bridge.imports.parts import Part, PartReader, split
from core.settings import Settings
from schemas.codec import default_codec
from schemas.events import ExecutionReported
from tests.fixtures.ntexports import CANONICAL, DateStyle, MoneyStyle, Variant, render_executions
from tests.unit.bridge.imports.test_exports import NEW_YORK, NOW, execution_rows, variants

SETTINGS = Settings.from_env({})


@pytest.fixture(scope="module")
def reader() -> Iterator[PartReader]:
    with PartReader(SETTINGS, 2) as reader:
        yield reader


def whole(text: str) -> Parsed:
    result = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW)
    return encoded(result, SETTINGS, default_codec())


def in_parts(reader: PartReader, text: str, size: int) -> Parsed | None:
    return reader.read(text, tz=NEW_YORK, ts_ingested=NOW, part_size=size)


def read_in_parts(reader: PartReader, text: str, size: int) -> Parsed:
    parsed = in_parts(reader, text, size)
    assert parsed is not None, "the export has rows"
    return parsed


def export(rows: list[ExecutionReported], variant: Variant = CANONICAL) -> str:
    return render_executions(rows, variant, NEW_YORK, [Decimal("0.52")] * len(rows))


@st.composite
def exports(draw: st.DrawFn) -> str:
    variant = draw(variants)
    drawn = draw(st.lists(execution_rows(variant.fees), min_size=0, max_size=12))
    rows = [event for event, _ in drawn]
    newline = draw(st.sampled_from(["", "\n", "\r\n"]))
    rows = [replace(e, order_name=f"a{newline}b" if e.order_name else None) for e in rows]
    return render_executions(rows, variant, NEW_YORK, [fee for _, fee in drawn])


@given(text=exports(), size=st.integers(0, 400))
def test_parts_hold_every_row_once_with_its_line(text: str, size: int) -> None:
    parts = split(text, size)
    assert all(part.text.startswith(text.split("\n", 1)[0]) for part in parts)
    rows = [
        row
        for part in parts
        for row in read_grid(
            part.text, EXECUTION_COLUMNS, "Executions", line_offset=part.line_offset
        ).rows
    ]
    assert rows == list(read_grid(text, EXECUTION_COLUMNS, "Executions").rows)


def test_a_part_never_ends_inside_a_quoted_cell() -> None:
    text = 'Instrument,Name\nNQ,"one\ntwo\nthree"\nES,plain\n'
    parts = split(text, 1)
    assert [p.text.split("\n", 1)[1] for p in parts] == ['NQ,"one\ntwo\nthree"\n', "ES,plain\n"]
    assert [p.line_offset for p in parts] == [0, 3]


def test_lone_carriage_returns_and_empty_exports_are_not_split() -> None:
    assert split("A,B\r1,2\r3,4\r", 1) == [Part("A,B\r1,2\r3,4\r", 0)]
    assert split("Instrument,Action\n", 1) == [] and split("", 1) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=exports(), size=st.integers(0, 600))
def test_reading_in_parts_equals_reading_whole(reader: PartReader, text: str, size: int) -> None:
    parsed = in_parts(reader, text, size)
    if parsed is None:
        assert whole(text).valid == 0
    else:
        assert parsed == whole(text)


def _rows(count: int, start: datetime) -> list[ExecutionReported]:
    text = "Instrument,Action,Quantity,Price,Time,ID,E/X,Commission,Account\n" + "".join(
        f"NQ 12-26,Buy,1,21000.25,{(start + timedelta(hours=i)):%m/%d/%Y %H:%M:%S},"
        f"x{i},Entry,$0.52,Sim101\n"
        for i in range(count)
    )
    events = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW).events
    return list(events)


def test_a_day_first_file_is_day_first_in_every_part(reader: PartReader) -> None:
    # the first parts' dates are all ambiguous (days 1 to 12): they are read again day-first
    rows = _rows(24 * 20, datetime(2026, 3, 1, tzinfo=UTC))
    text = export(rows, replace(CANONICAL, dates=DateStyle.DAY_FIRST))
    parsed = read_in_parts(reader, text, 2_000)
    assert parsed == whole(text)
    assert parsed.date_order is DateOrder.DAY_FIRST
    assert parsed.rejected == ()


def test_the_decimal_mark_is_the_whole_files(reader: PartReader) -> None:
    # the first rows use ".", most use ",": the first part alone would read them with "."
    rows = _rows(300, datetime(2026, 3, 1, tzinfo=UTC))
    dotted = export(rows[:30]).replace(",", ";")  # the European files' delimiter
    european = replace(CANONICAL, money=MoneyStyle.EUROPEAN, dates=DateStyle.ISO)
    text = dotted + "".join(export(rows[30:], european).splitlines(keepends=True)[1:])
    parsed = read_in_parts(reader, text, 1_000)
    assert parsed == whole(text) and parsed.decimal_mark == ","
    assert {r.line for r in parsed.rejected} == set(range(2, 32))


def test_rejected_rows_keep_their_lines(reader: PartReader) -> None:
    lines = export(_rows(400, datetime(2026, 3, 1, tzinfo=UTC))).splitlines(keepends=True)
    lines[350] = lines[350].replace("21000.25", "x", 1)
    lines[17] = lines[17].replace("Buy", "Hold", 1)
    text = "".join(lines)
    parsed = read_in_parts(reader, text, 1_500)
    assert parsed == whole(text)
    assert [(r.line, r.field) for r in parsed.rejected] == [(18, "Action"), (351, "Price")]


def test_a_header_that_is_not_an_executions_grid_is_refused(reader: PartReader) -> None:
    with pytest.raises(UnrecognizedHeaderError, match="Instrument"):
        in_parts(reader, "Account,Time\nSim101,x\n" * 3, 1)
