"""What a projection is: the topics it reads, the versioned table it writes, and how an event
becomes rows. Projections are data; the projector is one loop that serves them all."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import Enum
from typing import Any, NamedTuple

from schemas.events import Envelope, Event
from schemas.reader import LOCATION_CELLS


class Location(NamedTuple):
    """Where an event was read: its lineage in the log."""

    topic: str
    partition: int
    offset: int


LINEAGE_COLUMNS = ("ts_event", "event_id", "kafka_topic", "kafka_partition", "kafka_offset",
                   "ts_ingested")  # fmt: skip
"""The last columns of a row made by hand from one event (``lineage``)."""


def lineage(envelope: Envelope, where: Location) -> tuple[Any, ...]:
    """The cells of ``LINEAGE_COLUMNS``: when the event happened, which it was, where it was read,
    when it was recorded."""
    return (envelope.ts_event, envelope.event_id, where.topic, where.partition, where.offset,
            envelope.ts_ingested)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RowSpec:
    """A projection whose rows are cells of one event type, one row per event: each column a
    field's path (``trade_id``, ``envelope.event_id``; ``duration_micros:interval`` for
    microseconds as an interval) or where the record was read (``@topic``, ``@partition``,
    ``@offset``). Enums are written as their values and arrays as lists. Such rows can be read
    straight from a payload, without building the event (``schemas.reader.compile_row_reader``);
    ``to_rows`` makes the same rows from the event."""

    event: type[Any]
    cells: tuple[tuple[str, str], ...]
    """(column, cell) pairs, in the table's column order."""
    _parsed: tuple[tuple[tuple[str, ...], str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = []
        for _, cell in self.cells:
            path, _, conversion = cell.partition(":")
            parsed.append((tuple(path.split(".")), conversion))
        object.__setattr__(self, "_parsed", tuple(parsed))

    @classmethod
    def of(cls, event: type[Any], cells: Mapping[str, str]) -> RowSpec:
        """The spec of rows of ``event`` with ``cells`` (column → cell)."""
        return cls(event, tuple(cells.items()))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.cells)

    @property
    def cell_names(self) -> tuple[str, ...]:
        return tuple(cell for _, cell in self.cells)

    def to_rows(self, event: Event, where: Location) -> Sequence[tuple[Any, ...]]:
        if not isinstance(event, self.event):
            return ()
        return (tuple(_cell(event, where, path, conversion) for path, conversion in self._parsed),)


def _cell(event: Event, where: Location, path: tuple[str, ...], conversion: str) -> Any:
    if path[0] in LOCATION_CELLS:
        return where[LOCATION_CELLS.index(path[0])]
    value: Any = event
    for name in path:
        value = getattr(value, name)
    if value is None:
        return None
    if conversion == "interval":
        return timedelta(microseconds=value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Projection:
    name: str
    version: int = 1
    """The version its migrations create; rebuilds make others (``at``)."""
    topics: tuple[str, ...]
    """Catalog topic names (``derived.trades``), resolved in the namespace at run time."""
    columns: tuple[str, ...]
    key: tuple[str, ...]
    """The conflict target: a row with the same key is already projected and is left alone..."""
    to_rows: Callable[[Event, Location], Sequence[tuple[Any, ...]]]
    row: RowSpec | None = None
    """When the rows are cells of one event type (``to_rows`` is then ``row.to_rows``): the
    projector reads them straight from the payloads it can."""
    newer_by: str | None = None
    """...unless this column is named: then a row replaces the one with its key when its value
    there is at least as large (snapshots: the latest wins, a redelivered older one does not)."""
    latest_per_key: bool = False
    """The topics are keyed like the rows, and each record supersedes the earlier ones of its key
    in log order (whole states from one transactional writer): of a batch, only the last record
    of each key is decoded and projected, the others counted as ``superseded``. (The guard of
    ``newer_by`` then holds between batches only.)"""

    supersedes_header: str | None = None
    """A record header ``<group>:<order>``: of the records of one topic, key and group in a
    batch, only the one with the largest order (the last of equals) is decoded, the others
    counted as ``superseded``; records without the header are all decoded. It must agree with
    ``newer_by`` (the order is that column's value and key and group make up the row's key):
    it only saves decoding what ``newer_by`` would discard."""

    partition_by: str | None = None
    """The time column its table is partitioned on by month (UTC), if it is: the projector
    creates each month's partition when its first row comes."""

    linger: float = 0.0
    """Seconds a batch may wait to fill (up to the projector's batch size): for projections
    nobody reads within the second, fewer and larger transactions, which leaves the CPU and the
    database to the ones that are (trades, positions, performance)."""

    def __post_init__(self) -> None:
        if self.row is not None and self.to_rows != self.row.to_rows:
            raise ValueError(
                f"projection {self.name}: its rows are made by row.to_rows (the row reader reads"
                " the same); to make them another way, set row=None"
            )
        if self.row is not None and self.columns != self.row.columns:
            raise ValueError(f"projection {self.name}: columns differ from row.columns")

    def at(self, version: int) -> Projection:
        """This projection's version ``version`` (another table and consumer group)."""
        return replace(self, version=version)

    @property
    def table(self) -> str:
        return f"{self.name}_v{self.version}"

    @property
    def group(self) -> str:
        """Consumer group name (without namespace) of this projection version."""
        return f"projection.{self.name}.v{self.version}"


def finite_json(values: Mapping[str, float]) -> str:
    """``values`` as a JSON object; JSON has no NaN or infinity: those are null."""
    return json.dumps(
        {name: v if math.isfinite(v) else None for name, v in values.items()}, sort_keys=True
    )
