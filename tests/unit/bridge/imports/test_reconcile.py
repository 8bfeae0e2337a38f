"""Reconciliation: our FIFO trades and P&L against NinjaTrader's own Trades grid, to the cent.

From each Trades export (the real ones and their stand-ins in ``tests/data``), the executions
its trades imply (an entry and an exit execution per row, with the row's prices, times,
quantity, account and instrument, the commission split between them) are matched by
``domain.matching`` and must give back every row: the same pairing, the same ``Profit`` and
the same ``Cum. net profit``, computed from ``domain.contracts``' point values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.imports import (
    parse_executions,
    parse_trades,
    reconcile,
)
from bridge.imports.reconcile import derive_trades
from domain.contracts import ContractBook, spec_for
from domain.errors import UnknownInstrumentError
from schemas.events import (
    Direction,
    Envelope,
    EventId,
    ExecutionId,
    ExecutionReported,
    Side,
    Source,
    TradeReported,
)
from tests.fixtures import stubs
from tests.fixtures.ntsamples import (
    EXECUTIONS,
    REAL,
    SIM101,
    TOPSTEP,
    exports,
    read_export,
    samples,
    stand_in,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
TRADES = (SIM101, TOPSTEP)
"""The real Trades exports."""


def reported(path: Path) -> list[TradeReported]:
    result = parse_trades(read_export(path), tz=NEW_YORK, ts_ingested=NOW)
    assert result.rejected == ()
    return list(result.events)


def implied_executions(rows: Sequence[TradeReported]) -> list[ExecutionReported]:
    """The executions each row implies, in the order NinjaTrader saw them.

    At one second: exits of earlier positions first (a reversal closes before it opens), then
    entries, then exits of trades entered that same second; ties in grid order.
    """
    legs: list[tuple[datetime, int, int, ExecutionReported]] = []
    for index, row in enumerate(rows):
        cost = row.commission + row.fees
        entry_cost = (cost / 2).quantize(Decimal("0.01"))
        opening = Side.BUY if row.direction is Direction.LONG else Side.SELL
        closing = Side.SELL if opening is Side.BUY else Side.BUY
        exit_phase = 2 if row.exit_time == row.entry_time else 0
        legs.append((row.entry_time, 1, index, _leg(row, "entry", opening, entry_cost)))
        exit_ = _leg(row, "exit", closing, cost - entry_cost)
        legs.append((row.exit_time, exit_phase, index, exit_))
    legs.sort(key=lambda leg: leg[:3])
    return [leg[3] for leg in legs]


def _leg(row: TradeReported, which: str, side: Side, commission: Decimal) -> ExecutionReported:
    moment = row.entry_time if which == "entry" else row.exit_time
    execution_id = f"{row.trade_number}-{which}"
    return ExecutionReported(
        envelope=Envelope(
            event_id=EventId(f"evt-{execution_id}"),
            ts_event=moment,
            ts_ingested=moment,
            source=Source.IMPORT,
            producer="tests",
        ),
        execution_id=ExecutionId(execution_id),
        account=row.account,
        instrument=row.instrument,
        side=side,
        quantity=row.quantity,
        price=row.entry_price if which == "entry" else row.exit_price,
        commission=commission,
        fees=Decimal(0),
    )


@pytest.mark.parametrize("path", exports(*TRADES))
def test_every_trade_of_an_export_reconciles_to_the_cent(path: Path) -> None:
    rows = reported(path)
    without_spec = []
    for instrument in sorted({row.instrument for row in rows}):
        try:
            spec_for(instrument)
        except UnknownInstrumentError as e:
            without_spec.append(str(e))
    assert not without_spec, (
        f"{path.name}: instruments without a contract specification: {without_spec}"
    )

    result = reconcile(implied_executions(rows), rows)

    assert result.mismatches == ()
    assert result.unmatched_ours == () and result.unmatched_theirs == ()
    assert result.matched == len(rows) and result.ok
    assert result.open_positions == () and result.unknown_instruments == ()


@pytest.mark.parametrize("path", exports(*TRADES))
def test_the_cumulative_net_profit_is_the_running_sum_of_profit_in_grid_order(path: Path) -> None:
    # the premise of comparing Profit with our net P&L: NinjaTrader calls this sum "net"
    total = Decimal(0)
    for row in reported(path):
        total += row.profit
        assert row.cum_net_profit == total, row.trade_number


def test_a_wrong_execution_price_is_listed_as_a_mismatch() -> None:
    rows = reported(stand_in(SIM101))
    executions = implied_executions(rows)
    wrong = next(i for i, e in enumerate(executions) if e.execution_id == "5-exit")
    executions[wrong] = replace(executions[wrong], price=executions[wrong].price + Decimal("0.25"))

    result = reconcile(executions, rows)

    assert result.matched == len(rows) == 14 and not result.ok
    by_column = {(m.trade_number, m.column): m for m in result.mismatches}
    five = rows[4]
    tick = spec_for(five.instrument).tick_value * five.quantity
    assert by_column[5, "Exit price"].ours == five.exit_price + Decimal("0.25")
    assert by_column[5, "Exit price"].theirs == five.exit_price
    sign = 1 if five.direction is Direction.LONG else -1
    assert by_column[5, "Profit"].ours - by_column[5, "Profit"].theirs == sign * tick
    # the running sum is off by the same amount from trade 5 on
    assert {n for n, column in by_column if column == "Cum. net profit"} == set(range(5, 15))
    assert {column for n, column in by_column if n != 5} == {"Cum. net profit"}
    assert str(by_column[5, "Exit price"]).startswith(f"trade 5 ({five.account} ")


def test_profit_is_compared_net_of_commission_and_fees() -> None:
    rows = reported(stand_in(SIM101))[:3]
    charged = [
        replace(
            row,
            commission=Decimal("4.18"),
            fees=Decimal("0.40"),
            profit=row.profit - Decimal("4.58"),
            cum_net_profit=(row.cum_net_profit or 0) - Decimal("4.58") * (i + 1),
        )
        for i, row in enumerate(rows)
    ]
    assert reconcile(implied_executions(charged), charged).ok
    gross = [
        replace(row, profit=original.profit) for row, original in zip(charged, rows, strict=True)
    ]
    mismatches = reconcile(implied_executions(charged), gross).mismatches
    profit = [m for m in mismatches if m.column == "Profit"]
    assert [m.theirs - m.ours for m in profit] == [Decimal("4.58")] * 3  # off by the commission


def test_trades_on_either_side_without_a_partner_are_listed() -> None:
    rows = reported(stand_in(SIM101))[:6]
    executions = implied_executions(rows[:5])  # trade 6 never executed here
    extra = rows[0]
    later = extra.exit_time + timedelta(days=30)
    executions += [
        replace(e, execution_id=ExecutionId(f"x{i}"), envelope=replace(e.envelope, ts_event=later))
        for i, e in enumerate(implied_executions([extra]))
    ]  # and one round trip NinjaTrader did not report

    result = reconcile(executions, rows)

    assert result.matched == 5
    assert [t.trade_number for t in result.unmatched_theirs] == [6]
    assert [t.entry_time for t in result.unmatched_ours] == [later]


def test_an_instrument_without_a_contract_specification_is_reported() -> None:
    rows = [replace(row, instrument="ZZ 12-26") for row in reported(stand_in(SIM101))[:2]]
    result = reconcile(implied_executions(rows), rows)
    assert result.unknown_instruments == ("ZZ 12-26",)
    assert len(result.unmatched_theirs) == 2 and not result.ok


def test_a_root_defined_in_the_log_is_valued_with_its_definition() -> None:
    """NQ rows renamed to a root outside the table, defined with NQ's values, reconcile as the
    NQ rows do with the table's."""
    nq = reported(stand_in(SIM101))
    rows = [replace(row, instrument=re.sub(r"^NQ ", "ZZ ", row.instrument)) for row in nq]
    contracts = ContractBook()
    contracts.define(stubs.instrument_defined("ZZ", "0.25", "20", "USD"))
    result, expected = (
        reconcile(implied_executions(rows), rows, contracts),
        reconcile(implied_executions(nq), nq),
    )
    assert result.unknown_instruments == () and result.matched == expected.matched == len(rows)
    assert [(m.trade_number, m.column, m.ours) for m in result.mismatches] == [
        (m.trade_number, m.column, m.ours) for m in expected.mismatches
    ]
    trades = derive_trades(implied_executions(rows), contracts).trades
    assert {(t.instrument[:3], t.point_value) for t in trades} == {
        ("ZZ ", Decimal(20)),
        ("MNQ", Decimal(2)),
    }


def test_the_executions_stand_in_matches_into_flat_positions() -> None:
    executions = parse_executions(
        read_export(stand_in(EXECUTIONS)), tz=NEW_YORK, ts_ingested=NOW
    ).events
    derived = derive_trades(executions)
    assert derived.open_positions == () and derived.unknown_instruments == ()
    by_account: dict[str, Decimal] = {}
    for trade in derived.trades:
        by_account[trade.account] = by_account.get(trade.account, Decimal(0)) + trade.net_pnl
    # APEX ..11: three NQ round trips of one contract, $1.55 a side
    points = [
        Decimal("24816.75") - Decimal("24810.25"),
        Decimal("24799.25") - Decimal("24803.25"),
        Decimal("24808.75") - Decimal("24791.50"),
    ]
    assert by_account["APEX4471020000011"] == sum(points) * 20 - 3 * Decimal("3.10")
    # Sim101: three round trips of 10 MNQ, filled in parts, at $2 a point
    assert (
        by_account["Sim101"]
        == (
            (Decimal("6.50") * 7 + Decimal("6.25") * 3)
            - (Decimal("3.75") * 4 + Decimal("4.00") * 6)
            + (Decimal("17.25") * 2 + Decimal("17.00") * 8)
        )
        * 2
    )
    assert sum(t.quantity for t in derived.trades if t.account == "Sim101") == 30


@REAL
def test_the_real_executions_sample_matches_into_flat_positions() -> None:
    text = read_export(samples() / EXECUTIONS)
    executions = parse_executions(text, tz=NEW_YORK, ts_ingested=NOW).events
    derived = derive_trades(executions)
    assert derived.open_positions == () and derived.unknown_instruments == ()
    by_account: dict[str, Decimal] = {}
    for trade in derived.trades:
        by_account[trade.account] = by_account.get(trade.account, Decimal(0)) + trade.net_pnl
    # APEX ..26: six NQ round trips of one contract, $1.55 a side
    points = [
        Decimal("21535.75") - Decimal("21539.75"),
        Decimal("21533.25") - Decimal("21537.50"),
        Decimal("21529.25") - Decimal("21533.25"),
        Decimal("21524.75") - Decimal("21528.75"),
        Decimal("21515.75") - Decimal("21519.75"),
        Decimal("21541.50") - Decimal("21517.75"),
    ]
    assert by_account["APEX1279810000026"] == sum(points) * 20 - 6 * Decimal("3.10")
    # Sim101: six round trips of 10 MNQ, filled in parts
    assert sum(t.quantity for t in derived.trades if t.account == "Sim101") == 60
