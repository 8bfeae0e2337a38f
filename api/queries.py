"""A page of an endpoint's view: its filters checked (a bad one named with the reason), the SQL
(keyset pagination: the rows after the cursor in the page order, never an OFFSET), and the rows
as JSON values: decimals as strings, times in UTC with ``Z``."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import sql

from api.endpoints import DEFAULT_LIMIT, MAX_LIMIT, Endpoint, Kind
from core.errors import FillstreamError

RESERVED = ("cursor", "limit", "sort", "direction")


class QueryError(FillstreamError):
    """A query parameter the API cannot take: ``parameter`` and why."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


@dataclass(frozen=True, slots=True)
class PageQuery:
    endpoint: Endpoint
    equal: tuple[tuple[str, str], ...]
    """(column, value) pairs."""
    bounds: tuple[tuple[str, str, datetime], ...]
    """(column, "from" or "to", time)."""
    after: tuple[Any, ...] | None
    """The order columns' values of the last row of the previous page."""
    limit: int
    order: tuple[str, ...] = ()
    """The columns the page is ordered by: the endpoint's, or ``sort`` and its unique last."""
    descending: bool = True


def parse(endpoint: Endpoint, params: Mapping[str, str]) -> PageQuery:
    """The page ``params`` ask for; raises ``QueryError`` naming the first bad parameter."""
    known = {f.parameter for f in endpoint.filters} | set(RESERVED)
    for name in params:
        if name not in known:
            raise QueryError(
                name, f"unknown parameter; {endpoint.path} takes {', '.join(sorted(known))}"
            )
    equal, bounds = [], []
    for f in endpoint.filters:
        value = params.get(f.parameter)
        if value is None:
            continue
        if f.bound is None:
            equal.append((f.column, value))
        else:
            bounds.append((f.column, f.bound, _time(f.parameter, value)))
    limit = DEFAULT_LIMIT
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise QueryError("limit", f"not a whole number: {params['limit']!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError("limit", f"{limit} is not between 1 and {MAX_LIMIT}")
    order = endpoint.order
    if "sort" in params:
        sort = params["sort"]
        if sort not in endpoint.sortable:
            raise QueryError("sort", f"{sort!r} is not one of {', '.join(endpoint.sortable)}")
        order = (sort, endpoint.order[-1]) if sort != endpoint.order[-1] else (sort,)
    direction = params.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise QueryError("direction", f"{direction!r} is not asc or desc")
    after = None
    if "cursor" in params:
        after = decode_cursor(endpoint, params["cursor"], order)
    return PageQuery(
        endpoint, tuple(equal), tuple(bounds), after, limit, order, direction == "desc"
    )


def statement(query: PageQuery) -> tuple[sql.Composed, dict[str, Any]]:
    """The SQL of one page (one row more than the limit, to know whether another follows)."""
    endpoint = query.endpoint
    where, args = conditions(query)
    order = [sql.Identifier(c) for c in query.order or endpoint.order]
    if query.after is not None:  # the rows that sort after the cursor
        names = [f"after{i}" for i in range(len(order))]
        where.append(sql.SQL("({}) {} ({})").format(
            sql.SQL(", ").join(order), sql.SQL("<" if query.descending else ">"),
            sql.SQL(", ").join(sql.Placeholder(n) for n in names),
        ))  # fmt: skip
        args.update(zip(names, query.after, strict=True))
    way = sql.SQL("DESC" if query.descending else "ASC")
    text = sql.SQL("SELECT {} FROM {}{} ORDER BY {} LIMIT {}").format(
        columns(endpoint),
        sql.Identifier(endpoint.view),
        sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        sql.SQL(", ").join(sql.SQL("{} {}").format(o, way) for o in order),
        sql.Literal(query.limit + 1),
    )
    return text, args


def conditions(query: PageQuery) -> tuple[list[sql.Composable], dict[str, Any]]:
    """The filters of ``query`` as SQL conditions and their (named) arguments."""
    where: list[sql.Composable] = []
    args: dict[str, Any] = {}
    for column, value in query.equal:
        name = f"f{len(args)}"
        where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(name)))
        args[name] = value
    for column, bound, at in query.bounds:
        name = f"f{len(args)}"
        op = sql.SQL(">=") if bound == "from" else sql.SQL("<")
        where.append(sql.SQL("{} {} {}").format(sql.Identifier(column), op, sql.Placeholder(name)))
        args[name] = at
    return where, args


def page(query: PageQuery, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The JSON page of ``rows`` (as ``statement`` selected them): the items and the cursor of
    the next page, or null."""
    endpoint = query.endpoint
    shown = rows[: query.limit]
    items = rows_json(endpoint, shown)
    following = None
    if len(rows) > query.limit and shown:
        last = dict(zip((c.name for c in endpoint.columns), shown[-1], strict=True))
        order = query.order or endpoint.order
        following = encode_cursor(endpoint, tuple(last[c] for c in order), order)
    return {"items": items, "next": following}


def columns(endpoint: Endpoint) -> sql.Composable:
    """The endpoint's columns, in its order, for a SELECT."""
    return sql.SQL(", ").join(sql.Identifier(c.name) for c in endpoint.columns)


def rows_json(endpoint: Endpoint, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows selected with ``columns(endpoint)``, as the API writes them."""
    return [
        {c.name: to_json(c.kind, v) for c, v in zip(endpoint.columns, row, strict=True)}
        for row in rows
    ]


def to_json(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    match kind:
        case Kind.DECIMAL:
            return str(value)
        case Kind.TIMESTAMP:
            return _iso(value)
        case Kind.SECONDS:
            assert isinstance(value, timedelta)
            micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
            return format(Decimal(micros).scaleb(-6).normalize(), "f") if micros else "0"
        case Kind.TEXTS:
            return list(value)
        case Kind.DATE:
            return value.isoformat()
        case Kind.NUMBER:
            number = float(value)
            return (
                number
                if math.isfinite(number)
                else str(number).replace("inf", "Infinity").replace("nan", "NaN")
            )
        case _:
            return value


def encode_cursor(endpoint: Endpoint, values: tuple[Any, ...], order: tuple[str, ...] = ()) -> str:
    """The order columns' values of a row, as an opaque URL-safe token."""
    plain = [
        to_json(endpoint.column(c).kind, v)
        for c, v in zip(order or endpoint.order, values, strict=True)
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(endpoint: Endpoint, token: str, order: tuple[str, ...] = ()) -> tuple[Any, ...]:
    order = order or endpoint.order
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise QueryError("cursor", "not a cursor this API gave") from None
    if not isinstance(plain, list) or len(plain) != len(order):
        raise QueryError("cursor", "not a cursor this API gave (or of another sort)")
    values: list[Any] = []
    for name, value in zip(order, plain, strict=True):
        kind = endpoint.column(name).kind
        if kind is Kind.TIMESTAMP and isinstance(value, str):
            values.append(_time("cursor", value))
        elif kind is Kind.DECIMAL and isinstance(value, str):
            try:
                values.append(Decimal(value))
            except ArithmeticError:
                raise QueryError("cursor", "not a cursor this API gave") from None
        elif kind is Kind.DATE and isinstance(value, str):
            try:
                values.append(date.fromisoformat(value))
            except ValueError:
                raise QueryError("cursor", "not a cursor this API gave") from None
        elif _plain(kind, value):
            values.append(value)
        else:
            raise QueryError("cursor", "not a cursor this API gave")
    return tuple(values)


def _plain(kind: Kind, value: Any) -> bool:
    """Whether ``value`` is a cursor's integer or text as JSON carries it."""
    if kind is Kind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    return kind is Kind.TEXT and isinstance(value, str)


def _time(parameter: str, text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(parameter, f"not an ISO 8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise QueryError(parameter, f"no time zone in {text!r} (add Z for UTC)")
    return at.astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
