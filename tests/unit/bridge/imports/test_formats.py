"""Cells of NinjaTrader grid exports: times in every culture's format, money in every style."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bridge.imports.formats import (
    DateOrder,
    TimeParser,
    currency_of,
    detect_date_order,
    detect_decimal_mark,
    parse_cost,
    parse_integer,
    parse_money,
    parse_optional_money,
    parse_price,
    parse_quantity,
    parse_time,
)
from core.errors import InvalidEventError
from tests.fixtures.ntexports import DateStyle, MoneyStyle, render_money, render_time

NEW_YORK = ZoneInfo("America/New_York")
MONTH_FIRST = DateOrder.MONTH_FIRST


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def reason(call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidEventError) as caught:
        call(*args, **kwargs)
    return f"{caught.value.field}: {caught.value.reason}"


# --- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "order", "expected"),
    [
        ("9/22/2026 9:35:12 AM", MONTH_FIRST, utc(2026, 9, 22, 13, 35, 12)),  # EDT, UTC-4
        ("1/28/2025 10:59:52 AM", MONTH_FIRST, utc(2025, 1, 28, 15, 59, 52)),  # EST, UTC-5
        ("4/1/2026 10:17:09 PM", MONTH_FIRST, utc(2026, 4, 2, 2, 17, 9)),
        ("12/1/2026 12:00:00 AM", MONTH_FIRST, utc(2026, 12, 1, 5)),  # midnight
        ("12/1/2026 12:30:00 PM", MONTH_FIRST, utc(2026, 12, 1, 17, 30)),  # half past noon
        ("16/06/2026 09:45:59", DateOrder.DAY_FIRST, utc(2026, 6, 16, 13, 45, 59)),
        ("28/10/2025 14:30:26", DateOrder.DAY_FIRST, utc(2025, 10, 28, 18, 30, 26)),
        ("03/04/2026 14:30:26", DateOrder.DAY_FIRST, utc(2026, 4, 3, 18, 30, 26)),
        ("16.06.2026 09:45:59", DateOrder.DAY_FIRST, utc(2026, 6, 16, 13, 45, 59)),
        ("2026-02-22 9:25 PM", MONTH_FIRST, utc(2026, 2, 23, 2, 25)),  # summary-by-period style
        ("2026-09-22 09:35:12", DateOrder.DAY_FIRST, utc(2026, 9, 22, 13, 35, 12)),
        ("2026-09-22T13:35:12.25Z", MONTH_FIRST, utc(2026, 9, 22, 13, 35, 12, 250000)),
        ("2026-09-22T15:35:12+02:00", MONTH_FIRST, utc(2026, 9, 22, 13, 35, 12)),
        ("2/01/2026 9:34:00 a m", MONTH_FIRST, utc(2026, 2, 1, 14, 34)),  # Spanish designator
        ("2/01/2026 9:34:00 p. m.", MONTH_FIRST, utc(2026, 2, 2, 2, 34)),
        (" 9/22/2026\u00a09:35:12 AM ", MONTH_FIRST, utc(2026, 9, 22, 13, 35, 12)),
    ],
)
def test_times_in_every_format_become_utc(cell: str, order: DateOrder, expected: datetime) -> None:
    assert parse_time(cell, "Time", order=order, tz=NEW_YORK) == expected


def test_the_same_cell_reads_by_the_date_order() -> None:
    cell = "3/4/2026 10:00:00"
    assert parse_time(cell, "Time", order=MONTH_FIRST, tz=UTC) == utc(2026, 3, 4, 10)
    assert parse_time(cell, "Time", order=DateOrder.DAY_FIRST, tz=UTC) == utc(2026, 4, 3, 10)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1/28/2025 10:59:52 AM", "12/31/2025 1:00:00 PM"], DateOrder.MONTH_FIRST),
        (["01/02/2026 09:00:00", "13/02/2026 09:00:00"], DateOrder.DAY_FIRST),  # 13 decides
        (["01/02/2026 09:00:00", "12/02/2026 09:00:00"], DateOrder.MONTH_FIRST),  # ambiguous
        (["2026-02-13 09:00:00"], DateOrder.MONTH_FIRST),  # ISO says nothing about the others
        ([], DateOrder.MONTH_FIRST),
    ],
)
def test_date_order_is_detected_from_the_whole_file(cells: list[str], expected: DateOrder) -> None:
    assert detect_date_order(cells) is expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("abc", "Entry time: must be a date and time like 9/22/2026 9:35:12 AM or "
         "2026-09-22 09:35:12, was 'abc'"),
        ("9/22/2026", "Entry time: must be a date and time like 9/22/2026 9:35:12 AM or "
         "2026-09-22 09:35:12, was '9/22/2026'"),
        ("16/06/2026 09:45:59", "Entry time: is not a valid date (month must be in 1..12) when "
         "read month-first (is that the file's order?), was '16/06/2026 09:45:59'"),
        ("9/22/2026 13:35:12 PM", "Entry time: has hour 13 with PM, was '9/22/2026 13:35:12 PM'"),
        ("9/22/2026 9:35:12 XM", "Entry time: must be a date and time like 9/22/2026 9:35:12 AM "
         "or 2026-09-22 09:35:12, was '9/22/2026 9:35:12 XM'"),
        ("3/8/2026 2:30:00 AM", "Entry time: does not exist in time zone America/New_York "
         "(skipped by daylight saving), was '3/8/2026 2:30:00 AM'"),
        ("1/1/1969 1:00:00 AM", "Entry time: is out of range, was '1/1/1969 1:00:00 AM'"),
    ],
)  # fmt: skip
def test_bad_times_name_the_column_and_the_cell(cell: str, expected: str) -> None:
    assert reason(parse_time, cell, "Entry time", order=MONTH_FIRST, tz=NEW_YORK) == expected


def test_a_time_that_occurs_twice_is_read_as_the_first_occurrence() -> None:
    # 1:30 AM on 2026-11-01 happens in EDT (UTC-4) and again in EST (UTC-5)
    cell = "11/1/2026 1:30:00 AM"
    assert parse_time(cell, "Time", order=MONTH_FIRST, tz=NEW_YORK) == utc(2026, 11, 1, 5, 30)


@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    ),
    style=st.sampled_from(DateStyle),
    zone=st.sampled_from(["America/New_York", "America/Chicago", "Europe/Berlin", "UTC"]),
)
def test_rendered_times_read_back_to_the_same_instant(
    moment: datetime, style: DateStyle, zone: str
) -> None:
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz).replace(tzinfo=None)
    # a local time that occurs twice cannot say which: skip the second occurrence
    assume(local.replace(tzinfo=tz, fold=0).astimezone(UTC) == moment)
    order = DateOrder.DAY_FIRST if style is DateStyle.DAY_FIRST else MONTH_FIRST
    cell = render_time(moment, style, tz)
    assert parse_time(cell, "Time", order=order, tz=tz) == moment


def _time_like() -> st.SearchStrategy[str]:
    """Cells near the time formats: valid ones, and ones with an out-of-range or odd part."""
    number = st.integers(0, 99).map(str) | st.integers(0, 99).map("{:02d}".format)
    separator = st.sampled_from(["/", ".", "-"])
    suffix = st.sampled_from(["", " AM", " PM", " am", "AM", " p.m.", "Z", " +02:00", " XM"])
    fraction = st.sampled_from(["", ".5", ",123456"])
    return st.builds(
        lambda a, s1, b, s2, year, hour, minute, second, frac, suf: (
            f"{a}{s1}{b}{s2}{year} {hour}:{minute}:{second}{frac}{suf}"
        ),
        number, separator, number, separator,
        st.sampled_from(["2026", "1969", "2100", "26"]),
        number, number, number, fraction, suffix,
    )  # fmt: skip


def _outcome(parse: object, cell: str) -> object:
    assert callable(parse)
    try:
        return parse(cell, "Time")
    except InvalidEventError as e:
        return (e.field, e.reason)


@given(
    cells=st.lists(_time_like() | st.text(max_size=30), min_size=1, max_size=20),
    order=st.sampled_from([MONTH_FIRST, DateOrder.DAY_FIRST]),
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "UTC"]),
)
def test_the_time_parser_reads_every_cell_as_parse_time_does(
    cells: list[str], order: DateOrder, zone: str
) -> None:
    tz = ZoneInfo(zone)
    parser = TimeParser(order=order, tz=tz)
    for cell in cells:  # one parser for all: its remembered minutes must never leak
        expected = _outcome(lambda c, col: parse_time(c, col, order=order, tz=tz), cell)
        assert _outcome(parser, cell) == expected


def test_the_time_parser_is_exact_around_daylight_saving() -> None:
    parser = TimeParser(order=MONTH_FIRST, tz=NEW_YORK)
    for cell in ("11/1/2026 1:30:15 AM", "11/1/2026 1:59:59 AM", "11/1/2026 2:00:00 AM",
                 "3/8/2026 1:59:59 AM", "3/8/2026 3:00:01 AM"):  # fmt: skip
        assert parser(cell, "Time") == parse_time(cell, "Time", order=MONTH_FIRST, tz=NEW_YORK)
    assert "skipped by daylight saving" in reason(parser, "3/8/2026 2:30:10 AM", "Time")


# --- money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "mark", "expected", "currency"),
    [
        ("$1,126.02", ".", "1126.02", "USD"),
        ("-$18.98", ".", "-18.98", "USD"),
        ("($20.00)", ".", "-20.00", "USD"),
        ("$1002.50", ".", "1002.50", "USD"),  # no thousands separator: the real exports
        ("($15195.00)", ".", "-15195.00", "USD"),
        ("$0.00", ".", "0.00", "USD"),
        ("$-1.50", ".", "-1.50", "USD"),
        ("1126.02", ".", "1126.02", None),
        ("$1,234,567.89", ".", "1234567.89", "USD"),
        ("1.126,02 €", ",", "1126.02", "EUR"),
        ("-1.126,02 €", ",", "-1126.02", "EUR"),
        ("(1.126,02 €)", ",", "-1126.02", "EUR"),
        ("58,00 $", ",", "58.00", "USD"),
        ("-$ 200,00", ",", "-200.00", "USD"),
        ("307,42 €", ",", "307.42", "EUR"),
        ("20 000,00", ",", "20000.00", None),
        ("20\u00a0000,00 €", ",", "20000.00", "EUR"),
        ("20\u202f000,00 €", ",", "20000.00", "EUR"),
        ("1'126.02", ".", "1126.02", None),
        ("\u2212$18.98", ".", "-18.98", "USD"),  # a real minus sign
        ("USD 18.98", ".", "18.98", "USD"),
    ],
)
def test_money_in_every_style(cell: str, mark: str, expected: str, currency: str | None) -> None:
    amount = parse_money(cell, "Profit", decimal_mark=mark)
    assert amount == Decimal(expected) and str(amount) == expected  # exact, never via float
    assert currency_of(cell) == currency


@pytest.mark.parametrize(
    "cell",
    ["", "n/a", "$", "12 ticks", "1.5 %", "--$1.00", "($-1.00)", "$1,12.00", "$1,126,02.00",
     "$1.126,02", "$ $1", "1.2.3", "€1 €", "$1e5", "NaN", "$12.", "１２"],
)  # fmt: skip
def test_cells_that_are_not_money(cell: str) -> None:
    assert reason(parse_money, cell, "Profit").startswith("Profit: must be a money amount like")


def test_optional_money_and_costs() -> None:
    assert parse_optional_money("n/a", "MAE") is None
    assert parse_optional_money(" ", "MAE") is None
    assert parse_optional_money("$25.00", "MAE") == Decimal("25.00")
    assert parse_cost("", "Commission") == Decimal(0)
    assert parse_cost("$1.55", "Commission") == Decimal("1.55")
    assert (
        reason(parse_cost, "($1.55)", "NFA Fee") == "NFA Fee: must not be negative, was '($1.55)'"
    )


@pytest.mark.parametrize(
    ("cells", "mark"),
    [
        (["21539.50", "$0.00", "$1,126.02"], "."),
        (["21539,50", "0,00 €", "1.126,02 €"], ","),
        (["1,126", "1.126"], "."),  # three digits after the mark: could be thousands, no evidence
        (["21539", "$0"], "."),
        ([], "."),
    ],
)
def test_the_decimal_mark_is_the_files(cells: list[str], mark: str) -> None:
    assert detect_decimal_mark(cells) == mark


two_places = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
)


@given(
    amount=two_places, style=st.sampled_from(MoneyStyle), currency=st.sampled_from(["USD", "EUR"])
)
def test_money_rendered_in_any_style_reads_back_exactly(
    amount: Decimal, style: MoneyStyle, currency: str
) -> None:
    cell = render_money(amount, style, currency)
    assert parse_money(cell, "Profit", decimal_mark=style.decimal_mark) == amount
    assert currency_of(cell) == currency


# --- prices and quantities ---------------------------------------------------------------------


def test_prices_and_quantities() -> None:
    assert parse_price("21539.50", "Price") == Decimal("21539.50")
    assert parse_price("21539,50", "Price", decimal_mark=",") == Decimal("21539.50")
    assert parse_price("1.08265", "Price") == Decimal("1.08265")
    assert reason(parse_price, "0", "Price") == "Price: must be positive, was '0'"
    assert reason(parse_price, "", "Price") == "Price: is empty"
    assert reason(parse_price, "21539,50", "Price") == (
        "Price: must be a number with '.' before the decimals, was '21539,50'"
    )
    assert reason(parse_price, "1.00000000001", "Price") == (
        "Price: has more than 10 decimal places, was '1.00000000001'"
    )
    assert parse_quantity(" 10 ", "Quantity") == 10
    assert reason(parse_quantity, "0", "Qty") == "Qty: must be positive, was '0'"
    assert reason(parse_quantity, "1.5", "Qty") == "Qty: must be a whole number, was '1.5'"
    assert reason(parse_quantity, "-2", "Qty") == "Qty: must be a whole number, was '-2'"
    assert parse_integer("-2293", "Bars") == -2293
    assert parse_integer("33", "Bars") == 33


def test_unicode_digits_are_not_numbers() -> None:
    assert reason(parse_quantity, "١٢", "Qty").startswith("Qty: must be a whole number")
