"""Rendering NinjaTrader 8 grid exports the way its different cultures and versions write them.

The tests' counterpart of ``bridge.imports``: ``render_executions(rows, variant)`` writes an
Executions grid, ``render_trades(rows, variant)`` a Trades grid, in any ``Variant`` (date order,
money style, byte order mark, trailing delimiter, fee columns, CRLF, header names).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import pytest

from schemas.events import Direction, ExecutionReported, PositionEffect, TradeReported

SAMPLES_SETTING = "FILLSTREAM_NT_SAMPLES"


def samples() -> Path:
    """The real exports (see SOURCES.md there): the ``ninjatrader`` folder of the samples folder
    ``FILLSTREAM_NT_SAMPLES`` names (CI sets it: ``.ci/run``). Unset, the test asking is skipped,
    since a clone alone has no samples beside it; set to a folder that is not there, the test
    fails."""
    folder = os.environ.get(SAMPLES_SETTING)
    if not folder:
        pytest.skip(f"{SAMPLES_SETTING} is not set: the real NinjaTrader exports are not at hand")
    return Path(folder) / "ninjatrader"


def sample_names(pattern: str) -> list[str]:
    """The names of the real exports matching ``pattern``, to parametrize a test with: none
    while ``FILLSTREAM_NT_SAMPLES`` is unset (pytest then skips the test); a folder it names that
    is not there fails the collection."""
    folder = os.environ.get(SAMPLES_SETTING)
    if not folder:
        return []
    exports = Path(folder) / "ninjatrader"
    if not exports.is_dir():
        raise FileNotFoundError(f"{SAMPLES_SETTING}: no folder {exports}")
    return sorted(p.name for p in exports.glob(pattern))


FEES = ("Clearing Fee", "Exchange Fee", "IP Fee", "NFA Fee")
_SYMBOLS = {"USD": "$", "EUR": "€"}


class DateStyle(StrEnum):
    US = "us"  # 9/22/2026 9:35:12 AM
    DAY_FIRST = "day-first"  # 22/09/2026 09:35:12
    ISO = "iso"  # 2026-09-22 09:35:12


class MoneyStyle(StrEnum):
    NINJATRADER = "ninjatrader"  # $1002.50, ($98.50): what the real exports show
    US = "us"  # $1,126.02, -$18.98
    US_PARENS = "us-parens"  # $1,126.02, ($1,126.02)
    EUROPEAN = "european"  # 1.126,02 €, -1.126,02 €
    EUROPEAN_SPACE = "european-space"  # 1 126,02 $ (no-break space), -1 126,02 $

    @property
    def decimal_mark(self) -> str:
        return "," if self in (MoneyStyle.EUROPEAN, MoneyStyle.EUROPEAN_SPACE) else "."


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    dates: DateStyle = DateStyle.US
    money: MoneyStyle = MoneyStyle.NINJATRADER
    bom: bool = False
    trailing_delimiter: bool = True
    fees: bool = False
    crlf: bool = False
    short_headers: bool = True
    """``Qty`` and ``Cum. net profit`` (else ``Quantity`` and ``Cum. profit``)."""

    @property
    def delimiter(self) -> str:
        return ";" if self.money.decimal_mark == "," else ","


CANONICAL = Variant()
"""The format of the real exports: en-US, ``$1002.50``/``($98.50)``, trailing comma, LF."""


def render_money(amount: Decimal, style: MoneyStyle, currency: str = "USD") -> str:
    """``amount`` (two decimal places) as NinjaTrader writes it in ``style``."""
    symbol = _SYMBOLS[currency]
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    negative = amount < 0
    match style:
        case MoneyStyle.NINJATRADER:
            text = f"{symbol}{whole}.{cents}"
            return f"({text})" if negative else text
        case MoneyStyle.US | MoneyStyle.US_PARENS:
            text = f"{symbol}{_group(whole, ',')}.{cents}"
            if not negative:
                return text
            return f"({text})" if style is MoneyStyle.US_PARENS else f"-{text}"
        case MoneyStyle.EUROPEAN:
            return f"{'-' if negative else ''}{_group(whole, '.')},{cents} {symbol}"
        case MoneyStyle.EUROPEAN_SPACE:
            return f"{'-' if negative else ''}{_group(whole, chr(0xA0))},{cents} {symbol}"


def render_time(moment: datetime, style: DateStyle, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    match style:
        case DateStyle.US:
            hour = local.hour % 12 or 12
            suffix = "AM" if local.hour < 12 else "PM"
            return f"{local.month}/{local.day}/{local.year} {hour}:{local:%M:%S} {suffix}"
        case DateStyle.DAY_FIRST:
            return f"{local:%d/%m/%Y %H:%M:%S}"
        case DateStyle.ISO:
            return f"{local:%Y-%m-%d %H:%M:%S}"


def render_price(price: Decimal, variant: Variant) -> str:
    return f"{price:.2f}".replace(".", variant.money.decimal_mark)


def render_executions(
    rows: Sequence[ExecutionReported], variant: Variant, tz: tzinfo, fees: Sequence[Decimal] = ()
) -> str:
    """An Executions grid; with ``variant.fees``, ``fees[i]`` is row i's fee, in the first fee
    column (the others hold zero)."""
    quantity = "Qty" if variant.short_headers else "Quantity"
    header = ["Instrument", "Action", quantity, "Price", "Time", "ID", "E/X", "Position"]
    header += ["Order ID", "Name", "Commission", "Rate", "Account", "Connection"]
    if variant.fees:
        header += FEES
    lines = []
    for i, e in enumerate(rows):
        effect = {PositionEffect.ENTRY: "Entry", PositionEffect.EXIT: "Exit"}
        row = [e.instrument, e.side.value.title(), str(e.quantity), render_price(e.price, variant)]
        row += [render_time(e.envelope.ts_event, variant.dates, tz), e.execution_id]
        row += [effect.get(e.position_effect, ""), "-", e.order_id or "", e.order_name or ""]
        row += [render_money(e.commission, variant.money), "1", e.account, "Sim"]
        if variant.fees:
            row += [render_money(fees[i], variant.money)] + [
                render_money(Decimal(0), variant.money)
            ] * 3
        lines.append(row)
    return _write(header, lines, variant)


def render_trades(rows: Sequence[TradeReported], variant: Variant, tz: tzinfo) -> str:
    """A Trades grid; ``fees`` go to the first fee column when ``variant.fees``."""
    header = ["Trade number", "Instrument", "Account", "Strategy", "Market pos."]
    header += ["Qty" if variant.short_headers else "Quantity", "Entry price", "Exit price"]
    header += ["Entry time", "Exit time", "Entry name", "Exit name", "Profit"]
    header += ["Cum. net profit" if variant.short_headers else "Cum. profit", "Commission"]
    if variant.fees:
        header += FEES
    header += ["MAE", "MFE", "ETD", "Bars"]
    lines = []
    for t in rows:

        def money(amount: Decimal | None, t: TradeReported = t) -> str:
            return "n/a" if amount is None else render_money(amount, variant.money, t.currency)

        row = [str(t.trade_number), t.instrument, t.account, t.strategy or ""]
        row += ["Long" if t.direction is Direction.LONG else "Short", str(t.quantity)]
        row += [render_price(t.entry_price, variant), render_price(t.exit_price, variant)]
        row += [render_time(t.entry_time, variant.dates, tz)]
        row += [render_time(t.exit_time, variant.dates, tz), t.entry_name or "", t.exit_name or ""]
        row += [money(t.profit), money(t.cum_net_profit), money(t.commission)]
        if variant.fees:
            row += [money(t.fees), money(Decimal(0)), money(Decimal(0)), money(Decimal(0))]
        row += [money(t.mae), money(t.mfe), money(t.etd), "" if t.bars is None else str(t.bars)]
        lines.append(row)
    return _write(header, lines, variant)


def _write(header: list[str], rows: list[list[str]], variant: Variant) -> str:
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=variant.delimiter, lineterminator="\r\n" if variant.crlf else "\n"
    )
    tail = [""] if variant.trailing_delimiter else []
    writer.writerow(header + tail)
    for row in rows:
        writer.writerow(row + tail)
    return ("\ufeff" if variant.bom else "") + out.getvalue()


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(groups)
