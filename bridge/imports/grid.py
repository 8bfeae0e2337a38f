"""A NinjaTrader grid export as rows of cells by column, and what an import of one yields. Pure.

NinjaTrader writes the visible columns of a grid in display order, with a trailing delimiter on
every line, a comma (or, under cultures whose list separator is ``;``, a semicolon) between
cells, LF or CRLF line ends and sometimes a UTF-8 byte order mark. Columns are found by header
name, case-insensitively, under their known variants (``Qty``/``Quantity``); unknown columns are
ignored, so a grid with extra or reordered columns still imports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, TypeVar

from bridge.errors import UnrecognizedHeaderError
from bridge.imports.formats import DateOrder, MarkEvidence
from core.errors import InvalidEventError

E = TypeVar("E")

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) while a file is parsed."""


@dataclass(frozen=True, slots=True)
class Column:
    """A grid column: its NinjaTrader header (used in messages) and the headers it goes by."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True


def optional(name: str, *aliases: str) -> Column:
    return Column(name, (name.lower(), *aliases), required=False)


def required(name: str, *aliases: str) -> Column:
    return Column(name, (name.lower(), *aliases))


FEE_COLUMNS = tuple(
    optional(name) for name in ("Clearing Fee", "Exchange Fee", "IP Fee", "NFA Fee", "Fee", "Fees")
)
"""Fee columns newer NinjaTrader 8.1 builds add; the fees of a row are their sum."""

EXECUTION_COLUMNS = (
    required("Instrument"),
    required("Action"),
    required("Quantity", "qty"),
    required("Price"),
    required("Time"),
    required("ID", "execution id"),
    optional("E/X"),
    optional("Order ID"),
    optional("Name"),
    optional("Commission"),
    required("Account", "account display name", "account name"),
    *FEE_COLUMNS,
)

TRADE_COLUMNS = (
    required("Trade number", "trade-#", "trade #", "trade#", "trade no."),
    required("Instrument"),
    required("Account", "account display name", "account name"),
    optional("Strategy"),
    required("Market pos.", "market pos", "market position"),
    required("Qty", "quantity"),
    required("Entry price"),
    required("Exit price"),
    required("Entry time"),
    required("Exit time"),
    optional("Entry name"),
    optional("Exit name"),
    required("Profit"),
    optional("Cum. net profit", "cum. profit", "cum net profit", "cumulative profit"),
    optional("Commission"),
    *FEE_COLUMNS,
    optional("MAE"),
    optional("MFE"),
    optional("ETD"),
    optional("Bars"),
)

_KNOWN_GRIDS = {
    "an Executions grid export (use `fillstream import executions`)": EXECUTION_COLUMNS,
    "a Trades grid export (use `fillstream import trades`)": TRADE_COLUMNS,
}
_SUMMARY_HEADERS = {"period", "#", "cum. net profit", "gross profit", "% win"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedRow:
    """A row that did not import: its line in the file, the column at fault and why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


def rejected_lines(rejected: Sequence[RejectedRow]) -> tuple[int, ...]:
    """The lines with at least one rejected cell, in order."""
    return tuple(sorted({r.line for r in rejected}))


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult(Generic[E]):
    """The events of an export's valid rows (with their lines) and every rejected row."""

    events: tuple[E, ...]
    lines: tuple[int, ...]
    """The line of each event's row, parallel to ``events``."""
    rejected: tuple[RejectedRow, ...]
    date_order: DateOrder
    decimal_mark: str
    mark_evidence: MarkEvidence = MarkEvidence()
    """What the decimal mark was detected from (the parts of a file read apart add theirs up)."""

    @property
    def rejected_lines(self) -> tuple[int, ...]:
        return rejected_lines(self.rejected)

    @property
    def rows(self) -> int:
        """Data rows read: the valid ones plus the rejected ones."""
        return len(self.events) + len(self.rejected_lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class GridRow:
    line: int
    cells: Mapping[str, str]
    """Cell text by canonical column name; columns the file lacks are absent."""

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    columns: tuple[str, ...]
    """The canonical names of the known columns the file has."""
    rows: tuple[GridRow, ...]
    problems: tuple[RejectedRow, ...]
    """Rows whose shape is wrong (more cells than the header has columns)."""

    def values(self, *columns: str) -> Iterator[str]:
        """Every cell of the given columns, row by row."""
        for row in self.rows:
            for column in columns:
                if column in row.cells:
                    yield row.cells[column]


class Cells:
    """Takes a row's cells through their parsers, collecting every cell's error.

    A file repeats most of its cells (its accounts, instruments, actions and commissions, the
    fills of one second), so parsed cells are remembered per column in ``memo``, shared by the
    rows of one file: each column must be parsed the same way in every row.
    """

    MEMO_LIMIT = 4096
    """Cells remembered per column; a column of mostly distinct cells starts over past it."""

    def __init__(self, row: GridRow, memo: dict[str, dict[str, Any]] | None = None) -> None:
        self.row = row
        self.errors: list[InvalidEventError] = []
        self.memo = {} if memo is None else memo

    def take(self, column: str, parse: Callable[[str, str], Any], *, remember: bool = True) -> Any:
        """The parsed cell, or None (and the error kept) when it does not parse.

        ``remember=False`` for a column whose cells are all distinct (an id).
        """
        cell = self.row.cells.get(column, "")
        seen = self.memo.get(column) if remember else None
        if seen is not None:
            known = seen.get(cell, _UNSEEN)
            if known is not _UNSEEN:  # the common case: a cell seen before
                if isinstance(known, InvalidEventError):
                    self.errors.append(known)
                    return None
                return known
        try:
            result: Any = parse(cell, column)
        except InvalidEventError as e:
            result = e
        if remember:
            if seen is None:
                seen = self.memo[column] = {}
            elif len(seen) >= self.MEMO_LIMIT:
                seen.clear()
            seen[cell] = result
        if isinstance(result, InvalidEventError):
            self.errors.append(result)
            return None
        return result

    def rejected(self) -> list[RejectedRow]:
        return [
            RejectedRow(line=self.row.line, field=e.field, reason=e.reason) for e in self.errors
        ]


_UNSEEN = object()
_NO_EVIDENCE = MarkEvidence()


def convert_rows(
    grid: Grid,
    convert: Callable[[Cells], E | list[RejectedRow]],
    *,
    order: DateOrder,
    mark: str,
    evidence: MarkEvidence = _NO_EVIDENCE,
    progress: Progress | None = None,
) -> ImportResult[E]:
    """Every row of ``grid`` through ``convert``: an event, or the row's rejected cells."""
    events: list[E] = []
    lines: list[int] = []
    rejected = list(grid.problems)
    memo: dict[str, dict[str, Any]] = {}
    for done, row in enumerate(grid.rows, 1):
        result = convert(Cells(row, memo))
        if isinstance(result, list):
            rejected += result
        else:
            events.append(result)
            lines.append(row.line)
        if progress is not None and (done % 256 == 0 or done == len(grid.rows)):
            progress(done, len(grid.rows))
    return ImportResult(
        events=tuple(events),
        lines=tuple(lines),
        rejected=tuple(sorted(rejected, key=lambda r: r.line)),
        date_order=order,
        decimal_mark=mark,
        mark_evidence=evidence,
    )


def read_grid(text: str, columns: Sequence[Column], grid: str, *, line_offset: int = 0) -> Grid:
    """The rows of a grid export, cells keyed by canonical column name.

    ``line_offset`` is added to every row's line: for a part of a file (its header, then rows
    from further down), the lines between the header and the part's first row.
    Raises ``UnrecognizedHeaderError`` naming the missing columns when the header lacks a
    required one.
    """
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    positions = _positions(header, columns, grid)
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    rows: list[GridRow] = []
    problems: list[RejectedRow] = []
    previous = reader.line_num + line_offset
    names = tuple(positions)
    pick = itemgetter(*positions.values())
    reach = max(positions.values()) + 1
    for record in reader:
        line, previous = previous + 1, reader.line_num + line_offset
        if not "".join(record).strip():
            continue
        if len(record) > width and "".join(record[width:]).strip():
            problems.append(
                RejectedRow(
                    line=line,
                    field="row",
                    reason=f"has {len(record)} cells, more than the header's {width} columns",
                )
            )
            continue
        if len(record) >= reach:
            cells = dict(zip(names, pick(record), strict=True))
        else:  # a short row: the columns it lacks are absent
            cells = {name: record[i] for name, i in positions.items() if i < len(record)}
        rows.append(GridRow(line=line, cells=cells))
    return Grid(columns=tuple(positions), rows=tuple(rows), problems=tuple(problems))


def _positions(header: Sequence[str], columns: Sequence[Column], grid: str) -> dict[str, int]:
    normalized = [_normalize(h) for h in header]
    positions: dict[str, int] = {}
    for column in columns:
        for alias in column.aliases:
            if alias in normalized:
                positions[column.name] = normalized.index(alias)
                break
    missing = [c.name for c in columns if c.required and c.name not in positions]
    if missing:
        expected = [c.name for c in columns if c.required]
        raise UnrecognizedHeaderError(grid, missing, expected, _identify(normalized))
    return positions


def _identify(normalized: Sequence[str]) -> str | None:
    """What the header looks like instead, as a hint for the error message."""
    present = set(normalized)
    for what, columns in _KNOWN_GRIDS.items():
        if all(any(a in present for a in c.aliases) for c in columns if c.required):
            return f"it looks like {what}"
    if present >= _SUMMARY_HEADERS:
        return "it looks like a Trade Performance summary-by-period export, which has no trades"
    if not any(normalized):
        return "the file is empty"
    return None


def _normalize(header: str) -> str:
    return " ".join(header.removeprefix("\ufeff").split()).casefold()
