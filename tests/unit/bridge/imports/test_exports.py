"""Whole grid exports: the real samples, header variants, rejected rows, and generated exports in
every supported variant reading back to the same events."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridge.errors import UnrecognizedHeaderError
from bridge.imports import (
    PRODUCER,
    DateOrder,
    RejectedRow,
    parse_executions,
    parse_trades,
    trade_event_id,
    with_event_ids,
)
from bridge.parsing import derive_event_id, parse_event
from schemas.codec import default_codec
from schemas.events import (
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    OrderId,
    PositionEffect,
    Side,
    Source,
    TradeReported,
)
from tests.fixtures.ntexports import (
    CANONICAL,
    DateStyle,
    MoneyStyle,
    Variant,
    render_executions,
    render_trades,
)
from tests.fixtures.ntsamples import (
    EXECUTIONS,
    REAL,
    SIM101,
    STAND_INS,
    SUMMARY,
    TOPSTEP,
    data,
    exports,
    read_export,
    real_export,
    samples,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
TOPSTEP_ACCOUNTS = {
    "EXPRESSApr3013436618!TopstepTrader!TopstepTrader": 615,
    "EXPRESSMay213529692!TopstepTrader!TopstepTrader": 282,
    "EXPRESSMay1413863254!TopstepTrader!TopstepTrader": 148,
    "EXPRESSMay2114056466!TopstepTrader!TopstepTrader": 136,
    "EXPRESSMay2314159464!TopstepTrader!TopstepTrader": 10,
}
EXPECTED = {
    EXECUTIONS: ("executions", {"Sim101": 19, **{f"APEX12798100000{n}": 12 for n in (26, 27, 28)}}),
    TOPSTEP: ("trades", TOPSTEP_ACCOUNTS),
    SIM101: ("trades", {"Sim101": 73}),
    SUMMARY: ("neither", {}),
}
"""Every real export: which grid it is and how many rows per account it holds (none rejected).
The Trades export copied into ``tests/data`` is read there; the others are real samples, run
while ``FILLSTREAM_NT_SAMPLES`` is set (``test_stand_ins.py`` holds their stand-ins to them)."""


def sample(name: str) -> str:
    return read_export(real_export(name))


def raw_rows(path: Path) -> dict[int, dict[str, str]]:
    """The file's rows by line number, cells by header, as the csv module reads them."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return {line: row for line, row in enumerate(csv.DictReader(f), 2)}


def executions(text: str, **options: object) -> tuple[list[ExecutionReported], list[RejectedRow]]:
    result = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW, **options)  # type: ignore[arg-type]
    return list(result.events), list(result.rejected)


# --- the real samples ---------------------------------------------------------------------------


@REAL
def test_every_sample_file_is_accounted_for() -> None:
    assert sorted(p.name for p in samples().glob("*.csv")) == sorted(EXPECTED)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=() if STAND_INS[n] == n else REAL) for n in sorted(EXPECTED)],
)
def test_every_sample_parses_with_no_rejected_row(name: str) -> None:
    kind, per_account = EXPECTED[name]
    text = sample(name)
    if kind == "neither":
        for parse in (parse_executions, parse_trades):
            with pytest.raises(UnrecognizedHeaderError) as caught:
                parse(text, tz=NEW_YORK, ts_ingested=NOW)
            assert "summary-by-period export, which has no trades" in str(caught.value)
        return
    parse = parse_executions if kind == "executions" else parse_trades
    result = parse(text, tz=NEW_YORK, ts_ingested=NOW)
    assert result.rejected == ()
    assert result.rows == len(raw_rows(real_export(name))) == sum(per_account.values())
    assert Counter(e.account for e in result.events) == per_account
    assert result.date_order is DateOrder.MONTH_FIRST and result.decimal_mark == "."
    assert len({e.envelope.event_id for e in result.events}) == len(result.events)
    for event in result.events:
        default_codec().decode(default_codec().encode(event))  # every event fits the schema


@pytest.mark.parametrize("path", exports(EXECUTIONS))
def test_every_execution_row_matches_its_raw_text(path: Path) -> None:
    result = parse_executions(read_export(path), tz=NEW_YORK, ts_ingested=NOW)
    raw = raw_rows(path)
    for line, event in zip(result.lines, result.events, strict=True):
        row = raw[line]
        assert (event.instrument, event.account, event.execution_id) == (
            row["Instrument"], row["Account"], row["ID"]
        )  # fmt: skip
        assert event.side.value == row["Action"].lower()
        assert event.quantity == int(row["Quantity"]) and event.price == Decimal(row["Price"])
        assert event.commission == Decimal(row["Commission"].removeprefix("$"))
        assert event.order_id == (row["Order ID"] or None)
        assert event.order_name == (row["Name"] or None)
        assert event.position_effect.value == row["E/X"].lower()


@REAL
def test_spot_checked_execution_rows() -> None:
    by_line = dict(zip(*_lines_events(EXECUTIONS), strict=True))
    first = by_line[2]  # MNQ MAR25,Buy,9,21539.50,1/28/2025 10:59:52 AM,e6c4...,Entry,9 L,...
    assert first == ExecutionReported(
        envelope=Envelope(
            event_id=first.envelope.event_id,
            ts_event=datetime(2025, 1, 28, 15, 59, 52, tzinfo=UTC),  # 10:59:52 EST
            ts_ingested=NOW,
            source=Source.IMPORT,
            producer=PRODUCER,
        ),
        execution_id=ExecutionId("e6c4685b7fa74bb6a8af5cacebc76cb7"),
        account="Sim101",
        instrument="MNQ MAR25",
        side=Side.BUY,
        quantity=9,
        price=Decimal("21539.50"),
        commission=Decimal("0.00"),
        fees=Decimal(0),
        order_id=OrderId("258aa78f1aaa420ea8de80a4c1292789"),
        order_name="158012701254",
        position_effect=PositionEffect.ENTRY,
    )
    broker = by_line[21]  # NQ MAR25,Buy,1,21539.75,...,158012701257,Entry,-,,,$1.55,1,APEX..26
    assert isinstance(broker, ExecutionReported)
    assert (broker.execution_id, broker.commission) == ("158012701257", Decimal("1.55"))
    assert broker.order_id is None and broker.order_name is None


@pytest.mark.parametrize("path", exports(EXECUTIONS))
def test_an_imported_fill_has_the_event_id_the_bridge_gives_it_live(path: Path) -> None:
    for event in parse_executions(read_export(path), tz=NEW_YORK, ts_ingested=NOW).events:
        live = parse_event(
            {
                "type": "execution",
                "ts_event": event.envelope.ts_event.isoformat(),
                "execution_id": event.execution_id,
                "account": event.account,
                "instrument": event.instrument,
                "side": event.side.value,
                "quantity": event.quantity,
                "price": str(event.price),
                "commission": str(event.commission),
                "fees": str(event.fees),
                "position_effect": event.position_effect.value,
                **({"order_id": event.order_id} if event.order_id else {}),
                **({"order_name": event.order_name} if event.order_name else {}),
            },
            ts_ingested=NOW,
            producer="tests",
        )
        assert live.envelope.event_id == event.envelope.event_id
        imported = replace(event.envelope, source=Source.LIVE, producer="tests")
        assert live == replace(event, envelope=imported)  # the bridge's rules accept it as is


@REAL
def test_spot_checked_trade_rows() -> None:
    by_line = dict(zip(*_lines_events(SIM101), strict=True))
    # 8,NQ JUN26,Sim101,,Long,1,23822.75,23806.75,4/1/2026 8:58:00 PM,4/1/2026 10:17:09 PM,,
    # Close,($320.00),($11885.00),$0.00,$0.00,$0.00,$0.00,$0.00,$555.00,$370.00,$690.00,0,
    eight = by_line[9]
    assert isinstance(eight, TradeReported)
    assert (eight.trade_number, eight.direction, eight.quantity) == (8, Direction.LONG, 1)
    assert (eight.entry_price, eight.exit_price) == (Decimal("23822.75"), Decimal("23806.75"))
    assert eight.entry_time == datetime(2026, 4, 2, 0, 58, tzinfo=UTC)  # 8:58 PM EDT
    assert eight.exit_time == datetime(2026, 4, 2, 2, 17, 9, tzinfo=UTC)
    assert (eight.profit, eight.cum_net_profit) == (Decimal("-320.00"), Decimal("-11885.00"))
    assert (eight.commission, eight.fees, eight.bars) == (Decimal(0), Decimal(0), 0)
    assert (eight.mae, eight.mfe, eight.etd) == (Decimal(555), Decimal(370), Decimal(690))
    assert (eight.entry_name, eight.exit_name, eight.strategy) == (None, "Close", None)
    assert eight.envelope.ts_event == eight.exit_time
    assert eight.envelope.event_id == trade_event_id(eight)


def test_a_trade_held_over_a_session_break_has_negative_bars() -> None:
    topstep = dict(zip(*_lines_events(TOPSTEP), strict=True))
    held_overnight = topstep[484]  # 483,MNQ JUN25,...,($222.00),$655.50,...,-2293,
    assert isinstance(held_overnight, TradeReported)
    assert (held_overnight.profit, held_overnight.bars) == (Decimal("-222.00"), -2293)
    assert held_overnight.entry_name == "MNQ_VIXSell_638826629457698445"


def _lines_events(
    name: str,
) -> tuple[tuple[int, ...], tuple[ExecutionReported | TradeReported, ...]]:
    parse = parse_executions if name == EXECUTIONS else parse_trades
    result = parse(sample(name), tz=NEW_YORK, ts_ingested=NOW)
    return result.lines, result.events


# --- headers ------------------------------------------------------------------------------------


def test_header_variants_and_unknown_columns() -> None:
    text = (
        "\ufeffAccount display name;Instrument;Action;Qty;Price;Time;ID;Rate;Extra column;\r\n"
        "Sim101;ES 12-26;Sell short;2;5 000,25;16/06/2026 09:45:59;x1;1;whatever;\r\n"
    )
    (event,), rejected = executions(text)
    assert rejected == []
    assert (event.account, event.instrument, event.side, event.quantity) == (
        "Sim101", "ES 12-26", Side.SELL, 2
    )  # fmt: skip
    assert event.price == Decimal("5000.25") and event.commission == 0
    assert event.envelope.ts_event == datetime(2026, 6, 16, 13, 45, 59, tzinfo=UTC)


def test_a_header_that_is_not_the_grid_names_what_is_missing() -> None:
    with pytest.raises(UnrecognizedHeaderError) as caught:
        executions("Instrument,Action,Price,Time,Account\n")
    assert str(caught.value) == (
        "header is not a NinjaTrader Executions grid export: missing Quantity, ID "
        "(expected the columns Instrument, Action, Quantity, Price, Time, ID, Account)"
    )
    with pytest.raises(UnrecognizedHeaderError, match="looks like a Trades grid export"):
        executions(read_export(data(TOPSTEP)))
    with pytest.raises(UnrecognizedHeaderError, match="the file is empty"):
        parse_trades("", tz=NEW_YORK, ts_ingested=NOW)


# --- rejected rows ------------------------------------------------------------------------------

GOOD = "MNQ MAR25,Buy,1,21539.50,1/28/2025 10:59:52 AM,{id},Entry,1 L,,,$0.00,1,Sim101,ATF,"
HEADER = (
    "Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,"
    "Account,Connection,"
)


def test_bad_rows_are_listed_by_line_and_column_and_good_rows_still_parse() -> None:
    lines = [
        HEADER,
        GOOD.format(id="a"),
        "MNQ MAR25,Hold,0,-1,1/28/2025 10:59:52 AM,b,Entry,,,,$0.00,1,Sim101,ATF,",
        "",  # blank lines are skipped but counted
        GOOD.format(id="c").replace("$0.00", "($1.55)"),
        GOOD.format(id="d") + "surplus,",
        '"MNQ\nMAR25",Buy,1,21539.50,1/28/2025 10:59:52 AM,e,Sideways,,,,$0.00,1,Sim101,ATF,',
        GOOD.format(id="f").replace("1/28/2025", "2/30/2025"),
        GOOD.format(id="g"),
    ]
    events, rejected = executions("\n".join(lines) + "\n")
    assert [e.execution_id for e in events] == ["a", "g"]
    assert [str(r) for r in rejected] == [
        "line 3: Action: must be Buy, Sell, Buy to cover or Sell short, was 'Hold'",
        "line 3: Quantity: must be positive, was '0'",
        "line 3: Price: must be a number with '.' before the decimals, was '-1'",
        "line 5: Commission: must not be negative, was '($1.55)'",
        "line 6: row: has 16 cells, more than the header's 14 columns",
        "line 7: E/X: must be Entry or Exit, was 'Sideways'",
        "line 9: Time: is not a valid date (day is out of range for month) when read "
        "month-first (is that the file's order?), was '2/30/2025 10:59:52 AM'",
    ]


def test_a_bad_cell_repeated_on_many_rows_rejects_every_one_of_them() -> None:
    # cells are parsed once per file and remembered: an error must still count on every row
    bad = GOOD.replace("$0.00", "($1.55)")
    lines = [HEADER, bad.format(id="a"), GOOD.format(id="b"), bad.format(id="c")]
    lines += [GOOD.format(id=f"x{n}").replace("10:59:52", f"10:59:{n:02d}") for n in range(60)]
    lines.append(bad.format(id="d").replace("10:59:52", "10:59:60"))
    events, rejected = executions("\n".join(lines) + "\n")
    assert len(events) == 61
    assert [e.envelope.ts_event.second for e in events[1:]] == list(range(60))
    assert [str(r) for r in rejected] == [
        "line 2: Commission: must not be negative, was '($1.55)'",
        "line 4: Commission: must not be negative, was '($1.55)'",
        "line 65: Commission: must not be negative, was '($1.55)'",
        "line 65: Time: is not a valid date (second must be in 0..59) when read month-first "
        "(is that the file's order?), was '1/28/2025 10:59:60 AM'",
    ]


def test_a_trade_that_exits_before_it_enters_is_rejected() -> None:
    text = render_trades(with_event_ids([_trade(1)]), CANONICAL, NEW_YORK).replace(
        "9:40:00 AM", "9:20:00 AM"
    )
    result = parse_trades(text, tz=NEW_YORK, ts_ingested=NOW)
    assert [str(r) for r in result.rejected] == [
        "line 2: Exit time: is before the entry time, was '9/22/2026 9:20:00 AM'"
    ]


def _trade(number: int) -> TradeReported:
    entry = datetime(2026, 9, 22, 13, 30, tzinfo=UTC)
    exit_ = entry + timedelta(minutes=10)
    return TradeReported(
        envelope=Envelope(
            event_id=EventId(""),
            ts_event=exit_,
            ts_ingested=NOW,
            source=Source.IMPORT,
            producer=PRODUCER,
        ),
        trade_number=number,
        account="Sim101",
        instrument="NQ 12-26",
        direction=Direction.LONG,
        quantity=1,
        entry_price=Decimal("21000.25"),
        exit_price=Decimal("21010.75"),
        entry_time=entry,
        exit_time=exit_,
        profit=Decimal("210.00"),
        cum_net_profit=Decimal("210.00"),
        commission=Decimal(0),
        fees=Decimal(0),
    )


# --- generated exports in every variant ----------------------------------------------------------

variants = st.builds(
    Variant,
    dates=st.sampled_from(DateStyle),
    money=st.sampled_from(MoneyStyle),
    bom=st.booleans(),
    trailing_delimiter=st.booleans(),
    fees=st.booleans(),
    crlf=st.booleans(),
    real_headers=st.booleans(),
)
accounts = st.sampled_from(["Sim101", "APEX1279810000026", "EXPRESSApr30!TopstepTrader"])
instruments = st.sampled_from(["NQ JUN26", "MNQ MAR25", "ES 12-26"])
prices = st.integers(4 * 4000, 4 * 30000).map(lambda q: (Decimal(q) / 4).quantize(Decimal("0.01")))
money = st.decimals(min_value=-50000, max_value=50000, places=2, allow_nan=False)
costs = st.decimals(min_value=0, max_value=50, places=2, allow_nan=False)
names = st.text(
    st.sampled_from("abcXYZ019_|-,;\"' "), min_size=1, max_size=12
).map(str.strip).filter(bool)  # fmt: skip
times = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)


def _unambiguous(moment: datetime) -> bool:
    """Whether the local time of ``moment`` in New York reads back to it (not DST's repeat)."""
    local = moment.astimezone(NEW_YORK).replace(tzinfo=None)
    return local.replace(tzinfo=NEW_YORK, fold=0).astimezone(UTC) == moment


def _order(variant: Variant) -> DateOrder:
    return DateOrder.DAY_FIRST if variant.dates is DateStyle.DAY_FIRST else DateOrder.MONTH_FIRST


@st.composite
def execution_rows(draw: st.DrawFn, with_fees: bool) -> tuple[ExecutionReported, Decimal]:
    account, execution_id = draw(accounts), draw(names)
    moment = draw(times.filter(_unambiguous))
    fee = draw(costs) if with_fees else Decimal(0)
    basis = {"account": account, "execution_id": execution_id}
    event = ExecutionReported(
        envelope=Envelope(
            event_id=EventId(derive_event_id("execution", basis, basis)),
            ts_event=moment,
            ts_ingested=NOW,
            source=Source.IMPORT,
            producer=PRODUCER,
        ),
        execution_id=ExecutionId(execution_id),
        account=account,
        instrument=draw(instruments),
        side=draw(st.sampled_from([Side.BUY, Side.SELL])),
        quantity=draw(st.integers(1, 99)),
        price=draw(prices),
        commission=draw(costs),
        fees=fee,
        order_id=draw(st.none() | names.map(OrderId)),
        order_name=draw(st.none() | names),
        position_effect=draw(st.sampled_from(PositionEffect)),
    )
    return event, fee


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), variant=variants)
def test_generated_executions_exports_read_back_in_every_variant(
    data: st.DataObject, variant: Variant
) -> None:
    drawn = data.draw(st.lists(execution_rows(variant.fees), min_size=1, max_size=8))
    expected = [event for event, _ in drawn]
    fees = [fee for _, fee in drawn]
    text = render_executions(expected, variant, NEW_YORK, fees)
    result = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW, date_order=_order(variant))
    assert result.rejected == ()
    assert list(result.events) == expected
    canonical = render_executions(expected, replace(CANONICAL, fees=variant.fees), NEW_YORK, fees)
    assert parse_executions(canonical, tz=NEW_YORK, ts_ingested=NOW).events == result.events


@st.composite
def trade_rows(draw: st.DrawFn, with_fees: bool) -> list[TradeReported]:
    count = draw(st.integers(1, 6))
    currency = draw(st.sampled_from(["USD", "EUR"]))
    rows, cumulative = [], Decimal(0)
    for number in range(1, count + 1):
        account, instrument = draw(accounts), draw(instruments)
        entry = draw(times.filter(_unambiguous))
        exit_ = entry + timedelta(seconds=draw(st.integers(0, 3 * 86400)))
        assume(_unambiguous(exit_))
        profit = draw(money)
        cumulative += profit
        rows.append(
            TradeReported(
                envelope=Envelope(
                    event_id=EventId(""),
                    ts_event=exit_,
                    ts_ingested=NOW,
                    source=Source.IMPORT,
                    producer=PRODUCER,
                ),
                trade_number=number,
                account=account,
                instrument=instrument,
                strategy=draw(st.none() | names),
                direction=draw(st.sampled_from([Direction.LONG, Direction.SHORT])),
                quantity=draw(st.integers(1, 99)),
                entry_price=draw(prices),
                exit_price=draw(prices),
                entry_time=entry,
                exit_time=exit_,
                entry_name=draw(st.none() | names),
                exit_name=draw(st.none() | names),
                profit=profit,
                cum_net_profit=cumulative,
                commission=draw(costs),
                fees=draw(costs) if with_fees else Decimal(0),
                mae=draw(st.none() | costs),
                mfe=draw(st.none() | costs),
                etd=draw(st.none() | costs),
                bars=draw(st.none() | st.integers(-20000, 20000)),
                currency=currency,
            )
        )
    return with_event_ids(rows)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), variant=variants)
def test_generated_trades_exports_read_back_in_every_variant(
    data: st.DataObject, variant: Variant
) -> None:
    expected = data.draw(trade_rows(variant.fees))
    text = render_trades(expected, variant, NEW_YORK)
    result = parse_trades(text, tz=NEW_YORK, ts_ingested=NOW, date_order=_order(variant))
    assert result.rejected == ()
    assert list(result.events) == expected
    canonical = render_trades(expected, replace(CANONICAL, fees=variant.fees), NEW_YORK)
    assert parse_trades(canonical, tz=NEW_YORK, ts_ingested=NOW).events == result.events


@given(rows=st.lists(execution_rows(False), min_size=1, max_size=8))
def test_day_first_files_are_detected_when_a_day_is_above_12(
    rows: list[tuple[ExecutionReported, Decimal]],
) -> None:
    events = [event for event, _ in rows]
    text = render_executions(events, replace(CANONICAL, dates=DateStyle.DAY_FIRST), NEW_YORK)
    result = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW)
    days = {e.envelope.ts_event.astimezone(NEW_YORK).day for e in events}
    if max(days) > 12:
        assert result.date_order is DateOrder.DAY_FIRST and list(result.events) == events
    else:
        assert result.date_order is DateOrder.MONTH_FIRST  # ambiguous: read month-first


def test_trade_ids_survive_renumbering_and_tell_identical_rows_apart() -> None:
    one, two = _trade(1), replace(_trade(2), profit=Decimal("210.00"))
    first = with_event_ids([one, two])  # two 1-lot fills at one price and second: two rows
    assert first[0].envelope.event_id != first[1].envelope.event_id
    # the same trades in a later export that numbers them differently keep their ids
    later = with_event_ids([replace(one, trade_number=41), replace(two, trade_number=42)])
    assert [t.envelope.event_id for t in later] == [t.envelope.event_id for t in first]
    other = with_event_ids([replace(one, exit_price=Decimal("21011.00"))])
    assert other[0].envelope.event_id not in {t.envelope.event_id for t in first}
