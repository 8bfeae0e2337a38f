"""What a projection is: the topics it reads, the versioned table it writes, and how an event
becomes rows. Projections are data; the projector is one loop that serves them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from schemas.events import Event


class Location(NamedTuple):
    """Where an event was read: its lineage in the log."""

    topic: str
    partition: int
    offset: int


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
