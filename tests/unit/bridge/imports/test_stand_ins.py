"""The quirks of the real NinjaTrader exports, each reproduced by a stand-in in ``tests/data``
and imported as the real file is.

The tests of the stand-ins run always. Those comparing a stand-in with its real export run while
``FILLSTREAM_NT_SAMPLES`` names the real exports' folder (as on CI), and hold the stand-in to
every quirk of the real file: the same header, line ends and cell shapes, the same fields and
kinds of values once imported, and the same layout of rows. Each quirk, and its stand-in:

- trailing comma on every line, LF: all three stand-ins; CRLF: the Trades export copied as is
- Executions: 32-hex GUID ids on Sim101 fills, numeric ids with an empty Order ID and Name on
  the broker's; order names that are numbers, ``P||3108`` or ``Close``; one order filled in
  parts; ``$0.00`` and ``$1.55`` commissions; ``9 L``/``-`` positions; rows grouped by account,
  not in time order (``nt8_executions.csv``)
- Trades: the fee columns; negatives in parentheses, four-digit amounts without a thousands
  separator; reversals, scale-ins, one entry closed at two prices, two instruments open at once,
  evening and 12 PM times (``nt8_trades_fee-columns.csv``)
- summary by period: ``-$85.00`` negatives, ``n/a`` cells, ``2026-03-15 8:14 PM`` periods
  (``nt8_trades-summary-by-period.csv``)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.errors import UnrecognizedHeaderError
from bridge.imports import DateOrder, ImportResult, parse_executions, parse_trades
from schemas.events import (
    Direction,
    ExecutionId,
    ExecutionReported,
    OrderId,
    PositionEffect,
    Side,
    TradeReported,
)
from tests.fixtures.ntexports import CANONICAL, DateStyle, MoneyStyle, Variant, render_executions
from tests.fixtures.ntsamples import (
    EXECUTIONS,
    REAL,
    SIM101,
    SUMMARY,
    TOPSTEP,
    data,
    execution_traits,
    field_shapes,
    profile,
    read_export,
    samples,
    stand_in,
    trade_traits,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
ZERO = Decimal(0)

EXECUTION_TRAITS = {
    "several accounts",
    "rows grouped by account",
    "rows not in time order",
    "an order filled in parts",
    "fills without an order id",
}
TRADE_TRAITS = {
    "a reversal: an entry at the previous exit's second",
    "a scale-in: entries at two times closed by one exit",
    "one entry closed at two prices",
    "trades on two instruments open at once",
    "several instruments",
    "a quantity above 1",
    "evening session times",
    "12 PM times",
    "wins and losses",
    "cumulative profit below zero throughout",
    "amounts of four digits",
}


def executions_result() -> ImportResult[ExecutionReported]:
    return parse_executions(read_export(stand_in(EXECUTIONS)), tz=NEW_YORK, ts_ingested=NOW)


def trades_result() -> ImportResult[TradeReported]:
    return parse_trades(read_export(stand_in(SIM101)), tz=NEW_YORK, ts_ingested=NOW)


def executions() -> tuple[ExecutionReported, ...]:
    result = executions_result()
    assert result.rejected == ()
    return result.events


def trades() -> tuple[TradeReported, ...]:
    result = trades_result()
    assert result.rejected == ()
    return result.events


# --- the Executions export ----------------------------------------------------------------------


def test_the_executions_stand_in_is_laid_out_as_the_real_export() -> None:
    found = profile(stand_in(EXECUTIONS))
    assert found.header == (
        "Instrument", "Action", "Quantity", "Price", "Time", "ID", "E/X", "Position",
        "Order ID", "Name", "Commission", "Rate", "Account", "Connection", "",
    )  # fmt: skip
    assert found.row_widths == {15}  # a trailing comma on every line, the header's too
    assert (found.line_end, found.byte_order_mark, found.quoted_cells) == ("\n", False, False)
    assert found.cells["ID"] == {"<guid>", "9"} and found.cells["Order ID"] == {"<guid>", ""}
    assert found.cells["Name"] == {"9", "A||9", "Aa", ""}
    assert found.cells["Position"] == {"9 A", "-"}
    assert found.cells["Time"] == {"9/9/9 9:9:9 A"}
    assert execution_traits(executions()) == EXECUTION_TRAITS


def test_every_fill_of_the_executions_stand_in_imports() -> None:
    result = executions_result()
    assert result.rejected == () and result.rows == 21
    assert (result.date_order, result.decimal_mark) == (DateOrder.MONTH_FIRST, ".")
    assert Counter(e.account for e in result.events) == {
        "Sim101": 9, "APEX4471020000011": 6, "APEX4471020000012": 6
    }  # fmt: skip
    assert len({e.envelope.event_id for e in result.events}) == 21


def test_a_sim_fill_keeps_its_guid_ids_and_a_numeric_order_name_as_text() -> None:
    # MNQ JUN26,Buy,7,24810.25,2/17/2026 9:58:14 AM,ef47...,Entry,7 L,9a06...,161204300112,$0.00
    first = executions()[0]
    assert first.envelope.ts_event == datetime(2026, 2, 17, 14, 58, 14, tzinfo=UTC)  # EST
    assert first.execution_id == ExecutionId("ef47d307765d4ca9a821eeb87756f360")
    assert first.order_id == OrderId("9a06d6dfdeef4646a4afaad2d8cfa829")
    assert first.order_name == "161204300112"
    assert (first.account, first.instrument, first.side, first.quantity) == (
        "Sim101", "MNQ JUN26", Side.BUY, 7
    )  # fmt: skip
    assert (first.price, first.commission, first.fees) == (Decimal("24810.25"), ZERO, ZERO)
    assert first.position_effect is PositionEffect.ENTRY


def test_a_broker_fill_has_a_numeric_id_and_no_order() -> None:
    # NQ JUN26,Buy,1,24810.25,2/17/2026 9:58:13 AM,161204300115,Entry,-,,,$1.55,1,APEX...11
    broker = executions()[9]
    assert (broker.execution_id, broker.account) == ("161204300115", "APEX4471020000011")
    assert broker.order_id is None and broker.order_name is None
    assert broker.commission == Decimal("1.55") and broker.fees == 0
    assert broker.position_effect is PositionEffect.ENTRY


def test_the_fills_of_one_order_are_rows_of_their_own() -> None:
    close = [e for e in executions() if e.order_name == "Close"]
    assert [(e.quantity, e.price) for e in close] == [
        (2, Decimal("24808.75")),
        (8, Decimal("24808.50")),
    ]
    assert len({e.order_id for e in close}) == 1 and len({e.execution_id for e in close}) == 2


@pytest.mark.parametrize(
    "variant",
    [
        replace(CANONICAL, crlf=True),
        replace(CANONICAL, bom=True, trailing_delimiter=False),
        replace(CANONICAL, dates=DateStyle.DAY_FIRST, money=MoneyStyle.EUROPEAN),
        replace(CANONICAL, real_headers=False, fees=True),
    ],
    ids=["crlf", "bom-no-trailing-comma", "european", "other-headers-fees"],
)
def test_the_executions_stand_in_reads_the_same_written_in_other_variants(variant: Variant) -> None:
    events = executions()
    text = render_executions(events, variant, NEW_YORK, fees=[Decimal(0)] * len(events))
    result = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW)
    assert result.rejected == () and result.events == events


# --- the Trades exports -------------------------------------------------------------------------


def test_the_trades_stand_in_is_laid_out_as_the_real_export() -> None:
    found = profile(stand_in(SIM101))
    assert found.header[14:19] == (
        "Commission",
        "Clearing Fee",
        "Exchange Fee",
        "IP Fee",
        "NFA Fee",
    )
    assert found.row_widths == {24} and found.header[-1] == ""  # 23 columns, a trailing comma
    assert (found.line_end, found.byte_order_mark, found.quoted_cells) == ("\n", False, False)
    assert found.cells["Profit"] == {"$9.9", "($9.9)"}
    assert found.cells["Cum. net profit"] == {"($9.9)"}
    assert trade_traits(trades(), NEW_YORK) == TRADE_TRAITS


def test_a_losing_evening_trade_with_fee_columns() -> None:
    # 4,NQ JUN26,Sim101,,Long,1,24598.00,24455.25,3/16/2026 6:31:27 PM,3/16/2026 10:12:40 PM,,
    # Close,($2855.00),($7330.00),$0.00,$0.00,$0.00,$0.00,$0.00,$3020.00,$365.00,$3220.00,0,
    four = trades()[3]
    assert (four.trade_number, four.direction, four.quantity) == (4, Direction.LONG, 1)
    assert four.entry_time == datetime(2026, 3, 16, 22, 31, 27, tzinfo=UTC)  # 6:31 PM EDT
    assert four.exit_time == datetime(2026, 3, 17, 2, 12, 40, tzinfo=UTC)  # the next day in UTC
    assert (four.profit, four.cum_net_profit) == (Decimal("-2855.00"), Decimal("-7330.00"))
    assert (four.commission, four.fees, four.bars) == (ZERO, ZERO, 0)
    assert (four.mae, four.mfe, four.etd) == (Decimal(3020), Decimal(365), Decimal(3220))
    assert (four.entry_name, four.exit_name, four.strategy) == (None, "Close", None)
    assert four.envelope.ts_event == four.exit_time


def test_12_pm_is_noon_and_split_rows_keep_their_own_prices() -> None:
    rows = trades()
    assert rows[6].exit_time == datetime(2026, 3, 18, 16, 27, 19, tzinfo=UTC)  # 12:27:19 PM
    nine, ten = rows[8], rows[9]  # one 8-lot MNQ entry, closed at two prices
    assert (nine.quantity, nine.exit_price, nine.profit) == (4, Decimal("24418.00"), Decimal(-526))
    assert (ten.quantity, ten.exit_price, ten.profit) == (4, Decimal("24418.25"), Decimal(-528))
    assert nine.envelope.event_id != ten.envelope.event_id


def test_the_copied_trades_export_imports_with_its_crlf_line_ends() -> None:
    path = data(TOPSTEP)
    text = read_export(path)
    assert text.count("\r\n") == 1192 and profile(path).row_widths == {20}
    result = parse_trades(text, tz=NEW_YORK, ts_ingested=NOW)
    assert result.rejected == () and result.rows == 1191
    assert {e.exit_name for e in result.events} >= {None, "Close", "StopCancelClose"}
    assert parse_trades(text.replace("\r\n", "\n"), tz=NEW_YORK, ts_ingested=NOW) == result


# --- the summary-by-period export ---------------------------------------------------------------


def test_the_summary_stand_in_is_laid_out_as_the_real_export_and_is_not_imported() -> None:
    found = profile(stand_in(SUMMARY))
    assert found.header[:4] == ("Period", "#", "Cum. net profit", "Net profit")
    assert found.cells["Period"] == {"9-9-9 9:9 A"} and found.cells["% Win"] == {"a/a"}
    assert found.cells["Net profit"] == {"$9.9", "-$9.9"}
    for parse in (parse_executions, parse_trades):
        with pytest.raises(UnrecognizedHeaderError, match="summary-by-period export"):
            parse(read_export(stand_in(SUMMARY)), tz=NEW_YORK, ts_ingested=NOW)


# --- the stand-ins against the real exports (while FILLSTREAM_NT_SAMPLES is set) ---------------


@REAL
def test_the_copied_trades_export_is_the_real_one_byte_for_byte() -> None:
    assert data(TOPSTEP).read_bytes() == (samples() / TOPSTEP).read_bytes()


@REAL
@pytest.mark.parametrize("real", [EXECUTIONS, SIM101, SUMMARY])
def test_a_stand_in_has_the_quirks_of_its_real_export(real: str) -> None:
    expected, found = profile(samples() / real), profile(stand_in(real))
    assert found.cells == expected.cells  # column by column: which shapes its cells take
    assert found == expected


@REAL
def test_the_executions_stand_in_imports_as_the_real_export_does() -> None:
    expected = parse_executions(read_export(samples() / EXECUTIONS), tz=NEW_YORK, ts_ingested=NOW)
    _imports_alike(executions_result(), expected)
    assert execution_traits(expected.events) == EXECUTION_TRAITS


@REAL
def test_the_trades_stand_in_imports_as_the_real_export_does() -> None:
    expected = parse_trades(read_export(samples() / SIM101), tz=NEW_YORK, ts_ingested=NOW)
    _imports_alike(trades_result(), expected)
    assert trade_traits(expected.events, NEW_YORK) == TRADE_TRAITS


def _imports_alike(found: ImportResult[Any], expected: ImportResult[Any]) -> None:
    """No row rejected, the same formats detected, and the same fields filled the same way."""
    assert (found.rejected, found.date_order, found.decimal_mark) == (
        expected.rejected, expected.date_order, expected.decimal_mark
    )  # fmt: skip
    assert field_shapes(found.events) == field_shapes(expected.events)
