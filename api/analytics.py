"""The read API's figures over the trades view: the summary, the equity curve with its drawdown,
net P&L per trading day, distributions, breakdowns, excursions and the calibration of the
signals' confidence. Each is one SQL statement over the views, so a figure the dashboard shows
is the view's; each takes the trades filters (account, instrument, strategy, variant, source,
from, to) besides its own parameters, and says what it returns for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg import sql

from api.endpoints import TRADES, Kind
from api.queries import QueryError, conditions, parse, to_json

TRADING_DAY = (
    "(CASE extract(isodow FROM (exit_time AT TIME ZONE 'America/Chicago' + interval '7 hours'))"
    " WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END"
    " + (exit_time AT TIME ZONE 'America/Chicago' + interval '7 hours')::date)"
)
"""A trade's trading day, as the performance figures count it (``domain/performance/figures``):
the CME session date of its exit, its exit time in America/Chicago moved to the next day from
17:00 on, and from a Saturday or Sunday to the Monday."""

BREAKDOWNS = {
    "instrument": "instrument",
    "strategy": "coalesce(strategy, '')",
    "variant": "coalesce(variant, '')",
    "account": "account",
    "direction": "direction",
    "source": "source",
    "exit_reason": "coalesce(exit_reason, 'unknown')",
    "hour": "lpad(extract(hour FROM entry_time AT TIME ZONE %(tz)s)::int::text, 2, '0')",
    "weekday": "extract(isodow FROM entry_time AT TIME ZONE %(tz)s)::int::text",
}
"""What ``/api/breakdown?by=`` groups by. ``hour`` and ``weekday`` (1 Monday to 7 Sunday) are
of the entry, in ``tz`` (default UTC)."""

DISTRIBUTED = {"net_pnl": "net_pnl", "r_multiple": "r_multiple"}
MAX_POINTS = 10_000
MAX_BINS = 200
MAX_EXCURSIONS = 10_000


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    doc: str
    choices: tuple[str, ...] = ()
    integer: tuple[int, int] | None = None
    """(least, most) for a whole number."""
    default: str = ""


@dataclass(frozen=True, slots=True)
class Analytic:
    name: str
    summary: str
    params: tuple[Param, ...]
    response: dict[str, Any]
    """The JSON Schema of the answer."""
    trades_only: bool = True
    """Whether it reads the trades view alone (its answers are kept while the trades stay
    the same: ``api/cache.py``)."""

    @property
    def path(self) -> str:
        return f"/api/{self.name}"


def _decimal(doc: str = "", nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "format": "decimal"}
    if doc:
        schema["description"] = doc
    return {"oneOf": [schema, {"type": "null"}]} if nullable else schema


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


def _items(item: dict[str, Any]) -> dict[str, Any]:
    return _object(items={"type": "array", "items": item})


_INT: dict[str, Any] = {"type": "integer"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_TIME_OR_NULL: dict[str, Any] = {"oneOf": [_TIME, {"type": "null"}]}
_TEXT: dict[str, Any] = {"type": "string"}
_NUMBER_OR_NULL: dict[str, Any] = {"oneOf": [{"type": "number"}, {"type": "null"}]}
_TZ = Param("tz", "the time zone of hours and weekdays (IANA name)", default="UTC")

SUMMARY = Analytic(
    "summary",
    "The trades' totals: counts, net profit, costs, win rate, profit factor, expectancy, the "
    "largest drawdown of the equity curve, the average R.",
    (),
    _object(
        trades=_INT,
        wins=_INT,
        losses=_INT,
        net_pnl=_decimal(),
        gross_profit=_decimal("Σ net of the winners"),
        gross_loss=_decimal("Σ net of the losers (≤ 0)"),
        costs=_decimal("commission and fees"),
        win_rate=_decimal("wins / (wins + losses)", nullable=True),
        profit_factor=_decimal("gross profit / |gross loss|", nullable=True),
        expectancy=_decimal("net / trades", nullable=True),
        max_drawdown=_decimal("the largest fall from a running peak (from 0)"),
        avg_r=_decimal("the mean R multiple of the trades with a risk", nullable=True),
        first_exit=_TIME_OR_NULL,
        last_exit=_TIME_OR_NULL,
    ),
)
EQUITY = Analytic(
    "equity",
    "The equity curve (cumulative net P&L, oldest first) and its drawdown below the running "
    "peak; more trades than `points` are shown a bucket of consecutive trades a point (the "
    "bucket's last equity, its deepest drawdown).",
    (Param("points", "at most this many points", integer=(2, MAX_POINTS), default="2000"),),
    _items(
        _object(
            time=_TIME,
            equity=_decimal(),
            drawdown=_decimal("how far below the running peak, ≥ 0"),
            trades=_INT,
        )
    ),
)
DAILY = Analytic(
    "daily",
    "Net P&L per trading day (the CME session date of the exits), oldest first.",
    (),
    _items(_object(day={"type": "string", "format": "date"}, trades=_INT, net_pnl=_decimal())),
)
DISTRIBUTION = Analytic(
    "distribution",
    "A histogram of net P&L or R multiple: equal bins from the least value to the greatest.",
    (
        Param("field", "what to count", choices=tuple(DISTRIBUTED), default="net_pnl"),
        Param("bins", "how many bins", integer=(1, MAX_BINS), default="30"),
    ),
    _items(_object(low=_decimal(), high=_decimal(), trades=_INT)),
)
BREAKDOWN = Analytic(
    "breakdown",
    "Trades and net P&L grouped by instrument, strategy, variant, account, direction, source, "
    "exit reason, or the hour or weekday (1 Monday to 7 Sunday) of the entry.",
    (Param("by", "what to group by", choices=tuple(BREAKDOWNS), default="instrument"), _TZ),
    _items(
        _object(
            key=_TEXT,
            trades=_INT,
            wins=_INT,
            losses=_INT,
            net_pnl=_decimal(),
            avg_pnl=_decimal(),
        )
    ),
)
EXCURSIONS = Analytic(
    "excursions",
    "The newest trades' MAE and MFE beside their net P&L, for a scatter.",
    (Param("limit", "at most this many trades", integer=(1, MAX_EXCURSIONS), default="2000"),),
    _items(
        _object(
            trade_id=_TEXT,
            mae=_decimal(),
            mfe=_decimal(),
            net_pnl=_decimal(),
            r_multiple=_decimal(nullable=True),
        )
    ),
)
CALIBRATION = Analytic(
    "calibration",
    "The signals' confidence against the share of their trades won: five bins of 0.2, and the "
    "Brier score (mean (confidence − won)²; lower is better) over every trade whose signal gave "
    "a confidence.",
    (),
    _object(
        trades=_INT,
        brier=_NUMBER_OR_NULL,
        bins={
            "type": "array",
            "items": _object(
                low={"type": "number"},
                high={"type": "number"},
                trades=_INT,
                mean_confidence={"type": "number"},
                win_rate={"type": "number"},
            ),
        },
    ),
    trades_only=False,  # the signals too
)

ANALYTICS: tuple[Analytic, ...] = (
    SUMMARY,
    EQUITY,
    DAILY,
    DISTRIBUTION,
    BREAKDOWN,
    EXCURSIONS,
    CALIBRATION,
)


@dataclass(frozen=True, slots=True)
class Request:
    analytic: Analytic
    where: sql.Composable
    args: dict[str, Any]


def prepare(analytic: Analytic, params: Mapping[str, str]) -> Request:
    """The filters and parameters of a request, checked; a bad one raises ``QueryError``."""
    own = {p.name: p for p in analytic.params}
    trades_params = {k: v for k, v in params.items() if k not in own}
    for name in ("cursor", "limit", "sort", "direction"):
        if name in trades_params:
            raise QueryError(name, f"unknown parameter for {analytic.path}")
    where, args = conditions(parse(TRADES, trades_params))
    clause = sql.SQL(" AND ").join(where) if where else sql.SQL("true")
    for p in analytic.params:
        args[p.name] = _value(p, params.get(p.name, p.default))
    return Request(analytic, clause, args)


def _value(param: Param, text: str) -> Any:
    if param.choices and text not in param.choices:
        raise QueryError(param.name, f"{text!r} is not one of {', '.join(param.choices)}")
    if param.integer is not None:
        least, most = param.integer
        try:
            number = int(text)
        except ValueError:
            raise QueryError(param.name, f"not a whole number: {text!r}") from None
        if not least <= number <= most:
            raise QueryError(param.name, f"{number} is not between {least} and {most}")
        return number
    if param is _TZ:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise QueryError(param.name, f"{text!r} is not a time zone name") from None
    return text


def statement(request: Request) -> sql.Composed:
    """The SQL of the request; its arguments are ``request.args``."""
    w = request.where
    match request.analytic.name:
        case "summary":
            return sql.SQL(_SUMMARY).format(where=w)
        case "equity":
            return sql.SQL(_EQUITY).format(where=w)
        case "daily":
            return sql.SQL(_DAILY).format(where=w, day=sql.SQL(TRADING_DAY))
        case "distribution":
            field = sql.Identifier(DISTRIBUTED[request.args["field"]])
            return sql.SQL(_DISTRIBUTION).format(where=w, field=field)
        case "breakdown":
            key = sql.SQL(BREAKDOWNS[request.args["by"]])
            return sql.SQL(_BREAKDOWN).format(where=w, key=key)
        case "excursions":
            return sql.SQL(_EXCURSIONS).format(where=w)
        case "calibration":
            return sql.SQL(_CALIBRATION).format(where=w)
    raise AssertionError(request.analytic.name)


def answer(request: Request, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The JSON answer from the rows ``statement`` selected."""
    name = request.analytic.name
    if name == "summary":
        (row,) = rows
        return _json(request.analytic.response, row)
    if name == "calibration":
        bins = [r for r in rows if r[0] is not None]
        total = next((r for r in rows if r[0] is None), (None, None, 0, None, None, None))
        item = request.analytic.response["properties"]["bins"]["items"]
        return {
            "trades": total[2],
            "brier": total[5],
            "bins": [_json(item, b[:5]) for b in bins],
        }
    item = request.analytic.response["properties"]["items"]["items"]
    return {"items": [_json(item, row) for row in rows]}


def _json(schema: dict[str, Any], row: tuple[Any, ...]) -> dict[str, Any]:
    names = list(schema["properties"])
    return {n: to_json(_kind(schema["properties"][n]), v) for n, v in zip(names, row, strict=True)}


def _kind(schema: dict[str, Any]) -> Kind:
    plain = schema.get("oneOf", [schema])[0]
    match plain.get("format"):
        case "decimal":
            return Kind.DECIMAL
        case "date-time":
            return Kind.TIMESTAMP
        case "date":
            return Kind.DATE
    return Kind.NUMBER if plain.get("type") == "number" else Kind.TEXT


_SUMMARY = """
WITH curve AS (
    SELECT net_pnl, commission + fees AS costs, r_multiple, exit_time,
           sum(net_pnl) OVER w AS equity
    FROM trades WHERE {where}
    WINDOW w AS (ORDER BY exit_time, trade_id ROWS UNBOUNDED PRECEDING)
), fall AS (
    SELECT *, greatest(max(equity) OVER (ORDER BY exit_time ROWS UNBOUNDED PRECEDING), 0)
              - equity AS drawdown
    FROM curve
)
SELECT count(*), count(*) FILTER (WHERE net_pnl > 0), count(*) FILTER (WHERE net_pnl < 0),
       coalesce(sum(net_pnl), 0),
       coalesce(sum(net_pnl) FILTER (WHERE net_pnl > 0), 0),
       coalesce(sum(net_pnl) FILTER (WHERE net_pnl < 0), 0),
       coalesce(sum(costs), 0),
       round(count(*) FILTER (WHERE net_pnl > 0)::numeric
             / nullif(count(*) FILTER (WHERE net_pnl <> 0), 0), 6),
       round(sum(net_pnl) FILTER (WHERE net_pnl > 0)
             / nullif(-sum(net_pnl) FILTER (WHERE net_pnl < 0), 0), 6),
       round(sum(net_pnl) / nullif(count(*), 0), 6),
       coalesce(max(drawdown), 0),
       round(avg(r_multiple), 6),
       min(exit_time), max(exit_time)
FROM fall
"""
_EQUITY = """
WITH curve AS (
    SELECT exit_time, row_number() OVER w AS n, count(*) OVER () AS total,
           sum(net_pnl) OVER w AS equity
    FROM trades WHERE {where}
    WINDOW w AS (ORDER BY exit_time, trade_id ROWS UNBOUNDED PRECEDING)
), fall AS (
    SELECT *, greatest(max(equity) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING), 0) - equity
              AS drawdown,
           (n - 1) * %(points)s / total AS bucket
    FROM curve
)
SELECT max(exit_time), (array_agg(equity ORDER BY n DESC))[1], max(drawdown), count(*)
FROM fall GROUP BY bucket ORDER BY bucket
"""
_DAILY = """
SELECT {day} AS day, count(*), sum(net_pnl) FROM trades WHERE {where}
GROUP BY day ORDER BY day
"""
_DISTRIBUTION = """
WITH v AS (SELECT {field} AS x FROM trades WHERE {where} AND {field} IS NOT NULL),
r AS (SELECT min(x) AS lo, max(x) AS hi FROM v),
b AS (SELECT CASE WHEN r.hi = r.lo THEN 1
                  ELSE least(width_bucket(v.x, r.lo, r.hi, %(bins)s), %(bins)s) END AS bin
      FROM v, r)
SELECT r.lo + (r.hi - r.lo) * (s.bin - 1) / %(bins)s,
       CASE WHEN s.bin = %(bins)s THEN r.hi ELSE r.lo + (r.hi - r.lo) * s.bin / %(bins)s END,
       (SELECT count(*) FROM b WHERE b.bin = s.bin)
FROM r, generate_series(1, CASE WHEN r.hi = r.lo THEN 1 ELSE %(bins)s END) AS s(bin)
WHERE r.lo IS NOT NULL
ORDER BY s.bin
"""
_BREAKDOWN = """
SELECT {key} AS key, count(*), count(*) FILTER (WHERE net_pnl > 0),
       count(*) FILTER (WHERE net_pnl < 0), sum(net_pnl), round(avg(net_pnl), 6)
FROM trades WHERE {where}
GROUP BY key ORDER BY key
"""
_EXCURSIONS = """
SELECT trade_id, mae, mfe, net_pnl, r_multiple FROM trades
WHERE {where} AND mae IS NOT NULL AND mfe IS NOT NULL
ORDER BY exit_time DESC, trade_id DESC LIMIT %(limit)s
"""
_CALIBRATION = """
WITH scored AS (
    SELECT s.confidence, (t.net_pnl > 0)::int AS won,
           least(floor(s.confidence * 5), 4)::int AS bin
    FROM (SELECT * FROM trades WHERE {where}) t
    JOIN signals s ON s.signal_id = t.signal_id AND s.account = t.account
    WHERE s.confidence IS NOT NULL
)
SELECT bin / 5.0, (bin + 1) / 5.0, count(*), avg(confidence), avg(won)::float8, NULL::float8
FROM scored GROUP BY bin
UNION ALL
SELECT NULL, NULL, count(*), NULL, NULL, avg((confidence - won) ^ 2) FROM scored
ORDER BY 1 NULLS LAST
"""
