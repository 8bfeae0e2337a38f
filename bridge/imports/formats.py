"""The cells of NinjaTrader 8 grid exports, in the formats its Windows culture writes. Pure.

Times carry no offset: they are in the platform's time zone and are converted to UTC here.
``9/22/2026 9:35:12 AM`` (en-US), ``16/06/2026 09:45:59`` (day-first, 24 h),
``2026-02-22 9:25 PM`` and ISO 8601 are read; whether ``3/4/2026`` is March or April is the
file's ``DateOrder``. Money is ``$1,126.02``, ``$1002.50``, ``-$18.98``, ``($20.00)``,
``1.126,02 €``, ``58,00 $`` or ``20 000,00``; the decimal mark is the file's
(``detect_decimal_mark``).

Every parser takes the cell's text and its column, and raises ``InvalidEventError(column, reason)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from bridge.parsing import MAX_DECIMAL_PLACES
from core.errors import InvalidEventError

NOT_AVAILABLE = frozenset({"", "n/a", "na", "-"})
"""Cells NinjaTrader writes for a value it does not have."""

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?\s*(.*)"
_SLASHED = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\s+|T)" + _TIME)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+|T)" + _TIME)
_OFFSET = re.compile(r"(z|[+-]\d{2}:?\d{2})")
_SYMBOL = r"(?:[$€£¥₹]|[A-Z]{3})"
_MONEY = re.compile(
    rf"(?P<sign>-)?\s*(?P<pre>{_SYMBOL})?\s*(?P<sign2>-)?\s*(?P<number>\d[\d.,' ]*?)"
    rf"\s*(?P<post>{_SYMBOL})?\s*(?P<sign3>-)?"
)
_LAST_MARK = re.compile(r"([.,])(\d+)\D*$")
_EXAMPLE_TIME = "like 9/22/2026 9:35:12 AM or 2026-09-22 09:35:12"
_EXAMPLE_MONEY = "like $1,126.02, -$18.98, ($20.00) or 1.126,02 €"


class DateOrder(StrEnum):
    """How to read ``3/4/2026``: month first (en-US) or day first; ``auto`` looks at the file."""

    AUTO = "auto"
    MONTH_FIRST = "month-first"
    DAY_FIRST = "day-first"


def detect_date_order(cells: Iterable[str]) -> DateOrder:
    """Day-first if any date's first field is above 12, else month-first (ambiguous files)."""
    for cell in cells:
        match = _SLASHED.fullmatch(cell.strip())
        if match and int(match[1]) > 12:
            return DateOrder.DAY_FIRST
    return DateOrder.MONTH_FIRST


def resolve_date_order(order: DateOrder, cells: Iterable[str]) -> DateOrder:
    """``order`` itself, or the detected order when it is ``auto``."""
    return detect_date_order(cells) if order is DateOrder.AUTO else order


def parse_time(cell: str, column: str, *, order: DateOrder, tz: tzinfo) -> datetime:
    """A grid time in zone ``tz`` (or with its own offset) → an aware UTC datetime.

    A local time that occurs twice (the hour after daylight saving ends) is read as the first
    occurrence; one that never occurs (the hour skipped when it starts) is an error.
    """
    text = cell.translate(_SPACES).strip()
    if match := _ISO.fullmatch(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _SLASHED.fullmatch(text):
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        if order is DateOrder.AUTO:
            order = detect_date_order([text])
        month, day = (second, first) if order is DateOrder.DAY_FIRST else (first, second)
    else:
        raise InvalidEventError(column, f"must be a date and time {_EXAMPLE_TIME}, was {cell!r}")
    hour, minute, second_ = int(match[4]), int(match[5]), int(match[6] or 0)
    micros = int((match[7] or "0")[:6].ljust(6, "0"))
    hour, zone = _suffix(match[8], hour, column, cell, tz)
    try:
        local = datetime(year, month, day, hour, minute, second_, micros)
    except ValueError as e:
        hint = "" if match.re is _ISO else f" when read {order.value} (is that the file's order?)"
        raise InvalidEventError(column, f"is not a valid date ({e}){hint}, was {cell!r}") from None
    return _to_utc(local, zone, column, cell)


class TimeParser:
    """``parse_time`` for the cells of one column, computing each local minute once.

    A grid's times mostly share their minute with the rows around them: a cell with whole
    seconds (``9/22/2026 9:35:12 AM``) is read as its minute (``9/22/2026 9:35 AM``, parsed and
    converted once) plus the seconds. Any other cell, and any cell the shortcut cannot read, goes
    through ``parse_time`` itself, so results and errors are ``parse_time``'s.
    """

    LIMIT = 4096
    """Minutes remembered; past it the memory starts over."""

    def __init__(self, *, order: DateOrder, tz: tzinfo) -> None:
        self._order = order
        self._tz = tz
        self._minutes: dict[str, datetime | None] = {}

    def __call__(self, cell: str, column: str) -> datetime:
        colon = cell.rfind(":")
        seconds = cell[colon + 1 : colon + 3]
        rest = cell[colon + 3 :]
        if (
            cell.count(":") == 2
            and len(seconds) == 2
            and seconds.isdigit()
            and seconds.isascii()
            and (not rest or rest[0] == " ")
            and int(seconds) < 60
        ):
            minute_text = cell[:colon] + rest
            minute = self._minutes.get(minute_text, _UNKNOWN)
            if minute is _UNKNOWN:
                try:
                    minute = parse_time(minute_text, column, order=self._order, tz=self._tz)
                except InvalidEventError:
                    minute = None
                if len(self._minutes) >= self.LIMIT:
                    self._minutes.clear()
                self._minutes[minute_text] = minute
            if isinstance(minute, datetime):
                return minute + timedelta(seconds=int(seconds))
        return parse_time(cell, column, order=self._order, tz=self._tz)


_UNKNOWN = datetime.min


def _suffix(suffix: str, hour: int, column: str, cell: str, tz: tzinfo) -> tuple[int, tzinfo]:
    """The hour on a 24-hour clock and the zone, from an AM/PM designator or an offset."""
    designator = suffix.replace(".", "").replace(" ", "").lower()
    if designator in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise InvalidEventError(column, f"has hour {hour} with {suffix}, was {cell!r}")
        return hour % 12 + (12 if designator == "pm" else 0), tz
    if designator == "":
        return hour, tz
    if _OFFSET.fullmatch(designator):
        if designator == "z":
            return hour, UTC
        sign = -1 if designator[0] == "-" else 1
        digits = designator[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return hour, timezone(sign * offset)
    raise InvalidEventError(column, f"must be a date and time {_EXAMPLE_TIME}, was {cell!r}")


def _to_utc(local: datetime, zone: tzinfo, column: str, cell: str) -> datetime:
    aware = local.replace(tzinfo=zone, fold=0)
    moment = aware.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local:
        raise InvalidEventError(
            column, f"does not exist in time zone {zone} (skipped by daylight saving), was {cell!r}"
        )
    if not 1970 <= moment.year < 2100:
        raise InvalidEventError(column, f"is out of range, was {cell!r}")
    return moment


@dataclass(frozen=True, slots=True)
class MarkEvidence:
    """Numbers seen with ``.`` and with ``,`` before their decimals; the parts of a file add up."""

    dot: int = 0
    comma: int = 0

    def __add__(self, other: MarkEvidence) -> MarkEvidence:
        return MarkEvidence(self.dot + other.dot, self.comma + other.comma)

    @property
    def mark(self) -> str:
        return "," if self.comma > self.dot else "."


def count_decimal_marks(cells: Iterable[str]) -> MarkEvidence:
    """The evidence ``detect_decimal_mark`` decides by: a mark followed by exactly three digits
    (``1,126``) could be a thousands separator and does not count."""
    dot = comma = 0
    for cell in cells:
        match = _LAST_MARK.search(cell)
        if match and len(match[2]) != 3:
            if match[1] == ".":
                dot += 1
            else:
                comma += 1
    return MarkEvidence(dot, comma)


def detect_decimal_mark(cells: Iterable[str]) -> str:
    """``"."`` or ``","``: the mark before the decimals in most of the file's numbers (see
    ``count_decimal_marks``); a file without any evidence is read with ``"."``."""
    return count_decimal_marks(cells).mark


def parse_money(cell: str, column: str, *, decimal_mark: str = ".") -> Decimal:
    """A money cell → its exact amount; negatives in parentheses or with a minus sign."""
    text = cell.translate(_SPACES).strip()
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1].strip()
    match = _MONEY.fullmatch(text)
    signs = sum(1 for g in ("sign", "sign2", "sign3") if match and match[g])
    if match is None or (match["pre"] and match["post"]) or signs + negative > 1:
        raise InvalidEventError(column, f"must be a money amount {_EXAMPLE_MONEY}, was {cell!r}")
    amount = _number(
        match["number"], column, cell, decimal_mark, "a money amount " + _EXAMPLE_MONEY
    )
    return -amount if negative or signs else amount


def parse_optional_money(cell: str, column: str, *, decimal_mark: str = ".") -> Decimal | None:
    """``parse_money``, or None for an empty or ``n/a`` cell."""
    if cell.strip().lower() in NOT_AVAILABLE:
        return None
    return parse_money(cell, column, decimal_mark=decimal_mark)


def parse_cost(cell: str, column: str, *, decimal_mark: str = ".") -> Decimal:
    """A commission or fee: not negative; an empty cell is zero."""
    if not cell.strip():
        return Decimal(0)
    amount = parse_money(cell, column, decimal_mark=decimal_mark)
    if amount < 0:
        raise InvalidEventError(column, f"must not be negative, was {cell.strip()!r}")
    return amount


def currency_of(cell: str) -> str | None:
    """The ISO currency of a money cell's symbol or code (``$`` → USD), None without one."""
    match = _MONEY.fullmatch(cell.translate(_SPACES).strip().strip("()").strip())
    symbol = match and (match["pre"] or match["post"])
    if not symbol:
        return None
    return CURRENCY_SYMBOLS.get(symbol, symbol)


def parse_price(cell: str, column: str, *, decimal_mark: str = ".") -> Decimal:
    """A positive price (``21539.50``, ``21539,50``)."""
    text = cell.strip()
    if not text:
        raise InvalidEventError(column, "is empty")
    price = _number(text, column, cell, decimal_mark)
    if price <= 0:
        raise InvalidEventError(column, f"must be positive, was {cell!r}")
    return price


def parse_quantity(cell: str, column: str) -> int:
    """A positive whole number of contracts."""
    quantity = parse_count(cell, column)
    if quantity <= 0:
        raise InvalidEventError(column, f"must be positive, was {cell!r}")
    return quantity


def parse_count(cell: str, column: str) -> int:
    """A whole number that is not negative (a trade number, bars)."""
    text = cell.strip()
    if not text.isdigit() or not text.isascii():
        raise InvalidEventError(column, f"must be a whole number, was {cell!r}")
    number = int(text)
    if number >= 2**31:
        raise InvalidEventError(column, f"is out of range, was {cell!r}")
    return number


def parse_integer(cell: str, column: str) -> int:
    """A whole number that may be negative (NinjaTrader's ``Bars`` is, for trades held over a
    session break)."""
    text = cell.translate(_SPACES).strip()
    number = parse_count(text.removeprefix("-"), column)
    return -number if text.startswith("-") else number


def parse_text(cell: str, column: str) -> str:
    """A cell that must not be empty (an account, an instrument, an id)."""
    text = cell.strip()
    if not text:
        raise InvalidEventError(column, "is empty")
    return text


def optional_text(cell: str) -> str | None:
    """The stripped cell, or None when it is empty."""
    return cell.strip() or None


def _number(
    text: str, column: str, cell: str, decimal_mark: str, what: str = "a number"
) -> Decimal:
    """Digits with optional thousands groups (``,`` ``.`` ``'`` or space, whichever is not the
    decimal mark) and decimals after ``decimal_mark``."""
    whole, _, decimals = text.strip().partition(decimal_mark)
    groups = re.split(r"[,.' ]", whole)
    well_grouped = len(groups) == 1 or (
        1 <= len(groups[0]) <= 3
        and all(len(g) == 3 for g in groups[1:])
        and len({c for c in whole if not c.isdigit()}) == 1
    )
    digits = "".join(groups)
    if not (digits.isdigit() and digits.isascii() and well_grouped) or (
        decimal_mark in text and not (decimals.isdigit() and decimals.isascii())
    ):
        raise InvalidEventError(
            column, f"must be {what} with {decimal_mark!r} before the decimals, was {cell!r}"
        )
    try:
        number = Decimal(f"{digits}.{decimals}" if decimals else digits)
    except InvalidOperation:  # pragma: no cover - the checks above leave only digits
        raise InvalidEventError(column, f"must be a number, was {cell!r}") from None
    if len(decimals) > MAX_DECIMAL_PLACES:
        raise InvalidEventError(
            column, f"has more than {MAX_DECIMAL_PLACES} decimal places, was {cell!r}"
        )
    return number
