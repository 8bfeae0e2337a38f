"""What each endpoint of the read API reads: a view, its columns with their JSON types, the
filters it takes, and the columns its pages are ordered by (newest first), which its keyset
cursors carry. The queries and the OpenAPI document are both made from these declarations, and a
test holds them to the views as PostgreSQL defines them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a column is written in JSON."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    """An exact decimal as a string (``"-402.58"``): money, prices, ratios."""
    TIMESTAMP = "timestamp"
    """ISO 8601 in UTC, microseconds, ``Z``."""
    SECONDS = "seconds"
    """An interval as its length in seconds, an exact decimal string."""
    TEXTS = "texts"
    """An array of strings."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter: equality on ``column``, or (``bound``) ``>=``/``<`` on a time."""

    parameter: str
    column: str
    bound: str | None = None
    """``from`` (inclusive) or ``to`` (exclusive) for a time range; None for equality."""
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    view: str
    columns: tuple[Column, ...]
    order: tuple[str, ...]
    """The page order, newest first; the last column makes it unique."""
    filters: tuple[Filter, ...]
    summary: str

    @property
    def path(self) -> str:
        return f"/api/{self.name}"

    def column(self, name: str) -> Column:
        (found,) = (c for c in self.columns if c.name == name)
        return found


def _equal(*names: str) -> tuple[Filter, ...]:
    return tuple(Filter(n, n, doc=f"only rows whose {n} is this") for n in names)


def _c(name: str, kind: Kind, doc: str = "") -> Column:
    return Column(name, kind, False, doc)


def _n(name: str, kind: Kind, doc: str = "") -> Column:
    return Column(name, kind, True, doc)


T, INT, D, TS = Kind.TEXT, Kind.INTEGER, Kind.DECIMAL, Kind.TIMESTAMP

TRADES = Endpoint(
    name="trades",
    view="trades",
    summary="Closed trades, each at its latest revision (the trades view), newest exit first.",
    columns=(
        _c("trade_id", T),
        _c("account", T),
        _c("instrument", T),
        _n("strategy", T),
        _n("variant", T),
        _c("direction", T, "long or short"),
        _c("quantity", INT),
        _c("entry_time", TS),
        _c("exit_time", TS),
        _c("entry_price", D),
        _c("exit_price", D),
        _c("gross_pnl", D),
        _c("commission", D),
        _c("net_pnl", D, "after commission and fees"),
        _n("mae", D),
        _n("mfe", D),
        _c("source", T, "live, import or paper"),
        _n("signal_id", T),
        _c("currency", T),
        _c("point_value", D),
        _n("exit_name", T),
        _c("execution_ids", Kind.TEXTS),
        _n("round_trip_id", T),
        _c("fees", D),
        _n("entry_name", T),
        _n("exit_reason", T),
        _n("points", D),
        _n("ticks", D),
        _n("duration", Kind.SECONDS),
        _n("initial_stop", D),
        _n("risk", D),
        _n("r_multiple", D),
        _c("revision", INT, "0 for a trade never corrected"),
    ),  # fmt: skip
    order=("exit_time", "trade_id"),
    filters=(
        *_equal("account", "instrument", "strategy", "variant", "source"),
        Filter("from", "exit_time", "from", "exits at or after this time (ISO 8601)"),
        Filter("to", "exit_time", "to", "exits before this time (ISO 8601)"),
    ),
)

ENDPOINTS: tuple[Endpoint, ...] = (TRADES,)
"""Every endpoint, by name in its path."""

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
