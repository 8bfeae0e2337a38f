"""Parity of two versions of a projection: row counts, the sum of every money column, and the
rows that differ key by key (a full join on the projection's key, every column compared but
when and by which transaction the row was projected, ``projected_at`` and ``projected_xid``).
A rebuild switches its view only on parity or on the operator's word; ``fillstream verify``
reports the share of identical rows as the data-accuracy figure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from projections.projection import Projection

FIRST_DIFFERENCES = 10
"""How many differing keys a report names."""

_SKIPPED = frozenset({"projected_at", "projected_xid"})


@dataclass(frozen=True, slots=True)
class Difference:
    key: tuple[Any, ...]
    kind: str
    """``only_old``, ``only_new`` or ``changed``."""
    columns: tuple[str, ...] = ()
    """The columns that differ (``changed`` only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Parity:
    old_table: str
    new_table: str
    old_rows: int
    new_rows: int
    identical: int
    only_old: int
    only_new: int
    changed: int
    sums: dict[str, tuple[Decimal | None, Decimal | None]]
    """Per money column: its sum in the old table and in the new one."""
    first: list[Difference] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.only_old == self.only_new == self.changed == 0

    @property
    def accuracy(self) -> float:
        """The share of identical rows among all rows of either (1.0 for two empty tables)."""
        union = self.identical + self.only_old + self.only_new + self.changed
        return 1.0 if union == 0 else self.identical / union

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "same": self.same, "accuracy": self.accuracy}

    def render(self) -> str:
        labels = ["rows", *(f"sum({c})" for c in self.sums)]
        width = max(len(label) for label in labels) + 2
        cells = [(str(self.old_rows), str(self.new_rows))]
        cells += [(_num(old), _num(new)) for old, new in self.sums.values()]
        cell = max(len(c) for c in (self.old_table, self.new_table, *sum(cells, ()))) + 2
        lines = [
            f"{self.old_table} → {self.new_table}: "
            + ("identical" if self.same else "DIFFERENT")
            + f", {self.accuracy:.4%} of rows identical",
            "  " + "".ljust(width) + self.old_table.rjust(cell) + self.new_table.rjust(cell),
            "  " + "rows".ljust(width) + f"{self.old_rows:>{cell},}{self.new_rows:>{cell},}",
        ]
        for (column, (old, new)), (a, b) in zip(self.sums.items(), cells[1:], strict=True):
            mark = "" if old == new else "  ≠"
            label = f"sum({column})".ljust(width)
            lines.append(f"  {label}{a.rjust(cell)}{b.rjust(cell)}{mark}")
        if not self.same:
            lines.append(
                f"  only in {self.old_table}: {self.only_old:,}; only in {self.new_table}:"
                f" {self.only_new:,}; changed: {self.changed:,}"
            )
            for d in self.first:
                key = ", ".join(map(str, d.key))
                columns = f" ({', '.join(d.columns)})" if d.columns else ""
                lines.append(f"  {d.kind:<9} {key}{columns}")
        return "\n".join(lines)


def _num(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,}"


def compare(conn: psycopg.Connection[Any], projection: Projection, old: str, new: str) -> Parity:
    """Compare tables ``old`` and ``new`` of ``projection`` (in the connection's schema)."""
    columns = _columns(conn, old)
    compared = [name for name, _ in columns if name not in _SKIPPED]
    money = [name for name, kind in columns if kind == "numeric"]
    o, n = sql.Identifier("o"), sql.Identifier("n")
    key = [sql.Identifier(c) for c in projection.key]
    first_key = sql.SQL("{}.{}").format(o, key[0]), sql.SQL("{}.{}").format(n, key[0])

    def side(alias: sql.Identifier) -> sql.Composable:
        columns = (sql.SQL("{}.{}").format(alias, sql.Identifier(c)) for c in compared)
        return sql.SQL(", ").join(columns)

    distinct = sql.SQL("({}) IS DISTINCT FROM ({})").format(side(o), side(n))
    join = sql.SQL("{} o FULL JOIN {} n USING ({})").format(
        sql.Identifier(old), sql.Identifier(new), sql.SQL(", ").join(key)
    )
    counts = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE {ok} IS NOT NULL),"
            " count(*) FILTER (WHERE {nk} IS NOT NULL),"
            " count(*) FILTER (WHERE {ok} IS NOT NULL AND {nk} IS NOT NULL AND NOT {d}),"
            " count(*) FILTER (WHERE {nk} IS NULL),"
            " count(*) FILTER (WHERE {ok} IS NULL),"
            " count(*) FILTER (WHERE {ok} IS NOT NULL AND {nk} IS NOT NULL AND {d})"
            " FROM {join}"
        ).format(ok=first_key[0], nk=first_key[1], d=distinct, join=join)
    ).fetchone()
    assert counts is not None
    old_rows, new_rows, identical, only_old, only_new, changed = (int(c) for c in counts)
    sums = _sums(conn, old, new, money)
    first: list[Difference] = []
    if only_old or only_new or changed:
        which = sql.SQL(", ").join(
            sql.SQL("CASE WHEN {}.{} IS DISTINCT FROM {}.{} THEN {} END").format(
                o, sql.Identifier(c), n, sql.Identifier(c), sql.Literal(c)
            )
            for c in compared
            if c not in projection.key
        )
        rows = conn.execute(
            sql.SQL(
                "SELECT {keys}, CASE WHEN {nk} IS NULL THEN 'only_old'"
                " WHEN {ok} IS NULL THEN 'only_new' ELSE 'changed' END,"
                " array_remove(ARRAY[{which}]::text[], NULL)"
                " FROM {join} WHERE {ok} IS NULL OR {nk} IS NULL OR {d}"
                " ORDER BY {keys} LIMIT {limit}"
            ).format(
                keys=sql.SQL(", ").join(key),
                ok=first_key[0],
                nk=first_key[1],
                which=which,
                join=join,
                d=distinct,
                limit=sql.Literal(FIRST_DIFFERENCES),
            )
        ).fetchall()
        width = len(key)
        for row in rows:
            kind, changed_columns = row[width], tuple(row[width + 1])
            first.append(
                Difference(tuple(row[:width]), kind, changed_columns if kind == "changed" else ())
            )
    return Parity(
        old_table=old,
        new_table=new,
        old_rows=old_rows,
        new_rows=new_rows,
        identical=identical,
        only_old=only_old,
        only_new=only_new,
        changed=changed,
        sums=sums,
        first=first,
    )


def _columns(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, kind in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]


def _sums(
    conn: psycopg.Connection[Any], old: str, new: str, money: list[str]
) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    if not money:
        return {}
    select = sql.SQL("SELECT {} FROM {}")
    totals = sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(c)) for c in money)
    old_sums = conn.execute(select.format(totals, sql.Identifier(old))).fetchone() or ()
    new_sums = conn.execute(select.format(totals, sql.Identifier(new))).fetchone() or ()
    return {c: (a, b) for c, a, b in zip(money, old_sums, new_sums, strict=True)}
