"""What a projection is: the topics it reads, the versioned table it writes, and how an event
becomes rows. Projections are data; the projector is one loop that serves them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    version: int
    topics: tuple[str, ...]
    """Catalog topic names (``derived.trades``), resolved in the namespace at run time."""
    columns: tuple[str, ...]
    key: tuple[str, ...]
    """The conflict target: a row with the same key is already projected and is left alone."""
    to_rows: Callable[[Event, Location], Sequence[tuple[Any, ...]]]

    @property
    def table(self) -> str:
        return f"{self.name}_v{self.version}"

    @property
    def group(self) -> str:
        """Consumer group name (without namespace) of this projection version."""
        return f"projection.{self.name}.v{self.version}"
