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
    NUMBER = "number"
    """A floating-point figure (a ratio, a rate); ``"Infinity"``, ``"-Infinity"`` or ``"NaN"``
    as a string where it is not finite (a profit factor without losses)."""
    BOOLEAN = "boolean"
    DATE = "date"
    """A calendar day, ``2026-09-22``."""
    OBJECT = "object"
    """A JSON object, as stored (alert labels)."""
    VERDICTS = "verdicts"
    """The gate's rule verdicts, as stored: an array of objects with rule, kind, mode, verdict,
    value, limit (decimal strings or null), reason and halt."""


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

    @property
    def sortable(self) -> tuple[str, ...]:
        """The columns a page can be sorted by (``sort``): those never null, of a plain kind."""
        return tuple(
            c.name
            for c in self.columns
            if not c.nullable
            and c.kind in (Kind.TEXT, Kind.INTEGER, Kind.DECIMAL, Kind.TIMESTAMP, Kind.DATE)
        )

    def column(self, name: str) -> Column:
        (found,) = (c for c in self.columns if c.name == name)
        return found


def _equal(*names: str) -> tuple[Filter, ...]:
    return tuple(Filter(n, n, doc=f"only rows whose {n} is this") for n in names)


def _c(name: str, kind: Kind, doc: str = "") -> Column:
    return Column(name, kind, False, doc)


def _n(name: str, kind: Kind, doc: str = "") -> Column:
    return Column(name, kind, True, doc)


T, INT, D, TS, F = Kind.TEXT, Kind.INTEGER, Kind.DECIMAL, Kind.TIMESTAMP, Kind.NUMBER

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
        _n("etd", D, "end trade drawdown, as NinjaTrader reported it (imported trades)"),
    ),  # fmt: skip
    order=("exit_time", "trade_id"),
    filters=(
        *_equal("account", "instrument", "strategy", "variant", "source", "trade_id", "signal_id"),
        Filter("from", "exit_time", "from", "exits at or after this time (ISO 8601)"),
        Filter("to", "exit_time", "to", "exits before this time (ISO 8601)"),
    ),
)

POSITIONS = Endpoint(
    name="positions",
    view="positions",
    summary="Open positions, marked to the last bar of the excursion period, last changed first.",
    columns=(
        _c("account", T),
        _n("strategy", T),
        _c("instrument", T),
        _c("quantity", INT, "signed: negative for a short"),
        _c("average_price", D),
        _n("opened_at", TS),
        _n("round_trip_id", T),
        _n("initial_stop", D),
        _n("currency", T),
        _n("open_costs", D),
        _n("realized_pnl", D),
        _n("last_price", D),
        _n("marked_at", TS),
        _n("unrealized_pnl", D),
        _n("mae", D),
        _n("mfe", D),
        _c("sequence", INT),
        _c("execution_id", T, "the execution that last changed it"),
        _c("changed_at", TS),
    ),  # fmt: skip
    order=("changed_at", "account", "execution_id"),
    filters=_equal("account", "instrument", "strategy"),
)

PERFORMANCE = Endpoint(
    name="performance",
    view="performance",
    summary="The performance figures per scope and window (the performance view), most "
    "recently projected first.",
    columns=(
        _c("scope", T, "account, strategy, variant, instrument or the like"),
        _c("scope_key", T),
        _c("time_window", T),
        _c("window_key", T),
        _c("definitions_version", INT),
        _n("account", T),
        _n("strategy", T),
        _n("variant", T),
        _n("instrument", T),
        _n("scope_trades", INT),
        _n("currency", T),
        _n("as_of_trade_id", T),
        _c("trades", INT),
        _c("wins", INT),
        _c("losses", INT),
        _c("breakevens", INT),
        _n("win_rate", F),
        _n("nt_percent_profitable", F),
        _c("gross_profit", D),
        _c("gross_loss", D),
        _c("net_profit", D),
        _n("avg_win", D),
        _n("avg_loss", D),
        _n("payoff_ratio", F),
        _n("profit_factor", F),
        _n("expectancy", D),
        _n("max_drawdown", D),
        _n("max_drawdown_pct", F),
        _n("current_drawdown", D),
        _n("recovery_factor", F),
        _n("trading_days", INT),
        _n("sharpe", F),
        _n("sortino", F),
        _n("nt_sharpe_monthly", F),
        _n("sqn", F),
        _n("sqn_basis", T),
        _n("avg_r", F),
        _n("longest_win_streak", INT),
        _n("longest_loss_streak", INT),
        _n("avg_mae", D),
        _n("avg_mfe", D),
        _n("avg_etd", D),
        _n("entry_efficiency", F),
        _n("exit_efficiency", F),
        _n("total_efficiency", F),
        _n("first_exit", TS),
        _n("last_exit", TS),
        _c("snapshot_id", T),
        _c("projected_at", TS),
    ),  # fmt: skip
    order=("projected_at", "snapshot_id"),
    filters=_equal(
        "scope",
        "scope_key",
        "time_window",
        "window_key",
        "account",
        "strategy",
        "variant",
        "instrument",
    ),
)

ALERTS = Endpoint(
    name="alerts",
    view="alerts",
    summary="Every alert raised and resolved (the alerts view), newest first.",
    columns=(
        _c("rule", T),
        _c("key", T),
        _c("raised_at", TS),
        _c("state", T, "raised or resolved"),
        _n("severity", T),
        _n("summary", T),
        _n("labels", Kind.OBJECT),
        _c("ts_event", TS),
        _c("event_id", T),
        _n("ts_ingested", TS),
    ),  # fmt: skip
    order=("ts_event", "event_id"),
    filters=(
        *_equal("rule", "state", "severity"),
        Filter("from", "ts_event", "from", "changed at or after this time (ISO 8601)"),
        Filter("to", "ts_event", "to", "changed before this time (ISO 8601)"),
    ),
)

ACTIVE_ALERTS = Endpoint(
    name="alerts_active",
    view="alerts_active",
    summary="The alerts that hold: raised and not resolved, newest first.",
    columns=(
        _c("rule", T),
        _c("key", T),
        _n("severity", T),
        _c("raised_at", TS),
        _n("summary", T),
        _n("labels", Kind.OBJECT),
    ),  # fmt: skip
    order=("raised_at", "rule", "key"),
    filters=_equal("rule", "severity"),
)

SERVICE_CHECKS = Endpoint(
    name="service_checks",
    view="service_checks",
    summary="Every process's health checks (every 30 s each), newest first.",
    columns=(
        _c("service", T, "bridge, worker, projector, notifier, api"),
        _c("instance", T, "host:port of its health server"),
        _c("ts_event", TS),
        _c("healthy", Kind.BOOLEAN),
        _c("checks", Kind.OBJECT, 'each check by name: {"kafka": true, ...}'),
        _c("figures", Kind.OBJECT, 'its figures: {"lag_records": 0, ...}'),
        _c("interval_seconds", INT),
        _c("started_at", TS),
        _c("event_id", T),
        _c("ts_ingested", TS),
    ),  # fmt: skip
    order=("ts_event", "service", "instance"),
    filters=(
        *_equal("service", "instance"),
        Filter("from", "ts_event", "from", "checked at or after this time (ISO 8601)"),
        Filter("to", "ts_event", "to", "checked before this time (ISO 8601)"),
    ),
)

ALERTS_ACTIVE = ACTIVE_ALERTS

MARKET_BARS = Endpoint(
    name="market_bars",
    view="market_bars",
    summary="Price bars per instrument and period (the market_bars view), newest first.",
    columns=(
        _c("instrument", T),
        _c("period", T, "the bar's length, as NinjaTrader names it (1 Minute)"),
        _c("close_time", TS),
        _c("open", D),
        _c("high", D),
        _c("low", D),
        _c("close", D),
        _n("volume", INT),
        _n("bid", D),
        _n("ask", D),
        _c("event_id", T),
        _c("ts_ingested", TS),
    ),  # fmt: skip
    order=("close_time", "event_id"),
    filters=(
        *_equal("instrument", "period"),
        Filter("from", "close_time", "from", "bars closing at or after this time (ISO 8601)"),
        Filter("to", "close_time", "to", "bars closing before this time (ISO 8601)"),
    ),
)

SIGNALS = Endpoint(
    name="signals",
    view="signals",
    summary="The strategies' signals with their features (the signals view), newest first.",
    columns=(
        _c("strategy", T),
        _c("signal_id", T),
        _c("account", T),
        _c("instrument", T),
        _n("variant", T),
        _c("direction", T),
        _n("confidence", F),
        _n("intended_stop", D),
        _n("intended_target", D),
        _n("features", Kind.OBJECT),
        _c("ts_event", TS),
        _c("event_id", T),
        _c("ts_ingested", TS),
    ),  # fmt: skip
    order=("ts_event", "event_id"),
    filters=(
        *_equal("signal_id", "strategy", "account", "instrument", "variant"),
        Filter("from", "ts_event", "from", "signals at or after this time (ISO 8601)"),
        Filter("to", "ts_event", "to", "signals before this time (ISO 8601)"),
    ),
)

EXECUTIONS = Endpoint(
    name="executions",
    view="executions",
    summary="Every execution with where it was read in the log (the executions view), newest "
    "first.",
    columns=(
        _c("account", T),
        _c("execution_id", T),
        _c("instrument", T),
        _c("side", T),
        _c("quantity", INT),
        _c("price", D),
        _c("commission", D),
        _n("fees", D),
        _n("order_id", T),
        _n("order_name", T),
        _n("position_effect", T),
        _n("strategy", T),
        _n("variant", T),
        _n("signal_id", T),
        _n("nt_trade_id", T),
        _c("time", TS),
        _c("source", T),
        _n("producer", T),
        _c("event_id", T),
        _c("kafka_topic", T),
        _c("kafka_partition", INT),
        _c("kafka_offset", INT),
        _c("ts_ingested", TS),
        _n("correction", T, "corrected or busted, when it was"),
    ),  # fmt: skip
    order=("time", "event_id"),
    filters=(
        *_equal("account", "execution_id", "instrument", "strategy", "signal_id", "source"),
        Filter("from", "time", "from", "executed at or after this time (ISO 8601)"),
        Filter("to", "time", "to", "executed before this time (ISO 8601)"),
    ),
)

REGIMES = Endpoint(
    name="regimes",
    view="regimes",
    summary="Each instrument's market regimes as served (the regimes view), newest first; the "
    "current one has no end.",
    columns=(
        _c("instrument", T),
        _c("period", T),
        _c("label", T),
        _n("volatility", T),
        _n("trend", T),
        _c("starts_at", TS),
        _n("ends_at", TS),
        _n("atr", D),
        _n("atr_percentile", D),
        _n("trend_strength", D),
        _c("classifier_version", INT),
    ),  # fmt: skip
    order=("starts_at", "instrument"),
    filters=_equal("instrument", "period", "label"),
)

PERFORMANCE_BY_REGIME = Endpoint(
    name="performance_by_regime",
    view="performance_by_regime",
    summary="The figures per account, strategy and the regime each trade was entered in.",
    columns=(
        _c("account", T),
        _n("strategy", T),
        _c("regime", T, "unlabelled where no label held at the entry"),
        _c("currency", T),
        _c("trades", INT),
        _c("wins", INT),
        _c("losses", INT),
        _n("win_rate", D),
        _c("net_profit", D),
        _n("avg_net_pnl", D),
        _c("gross_profit", D),
        _c("gross_loss", D),
        _n("profit_factor", D),
        _n("avg_win", D),
        _n("avg_loss", D),
        _n("payoff_ratio", D),
        _n("expectancy", D),
        _n("max_drawdown", D),
        _n("current_drawdown", D),
        _n("recovery_factor", D),
        _n("longest_win_streak", INT),
        _n("longest_loss_streak", INT),
        _n("sharpe_per_trade", D),
        _n("avg_mae", D),
        _n("avg_mfe", D),
        _n("first_exit", TS),
        _c("last_exit", TS),
    ),  # fmt: skip
    order=("last_exit", "account", "regime"),
    filters=_equal("account", "strategy", "regime"),
)

PAPER_COMPARISON = Endpoint(
    name="paper_comparison",
    view="paper_comparison",
    summary="Each signal traded live beside its paper fill: the slippage, newest entry first.",
    columns=(
        _c("signal_id", T),
        _c("account", T),
        _c("instrument", T),
        _n("strategy", T),
        _n("variant", T),
        _c("direction", T),
        _c("quantity", INT),
        _n("paper_quantity", INT),
        _c("currency", T),
        _c("live_entry_time", TS),
        _n("paper_entry_time", TS),
        _c("live_entry_price", D),
        _n("paper_entry_price", D),
        _c("live_exit_time", TS),
        _n("paper_exit_time", TS),
        _c("live_exit_price", D),
        _n("paper_exit_price", D),
        _c("live_net_pnl", D),
        _n("paper_net_pnl", D),
        _n("net_difference_per_contract", D),
        _n("entry_slippage", D, "price points against the trade: positive costs"),
        _n("exit_slippage", D),
        _n("slippage_value", D, "in the account's currency"),
    ),  # fmt: skip
    order=("live_entry_time", "signal_id"),
    filters=(
        *_equal("account", "instrument", "strategy", "variant"),
        Filter("from", "live_entry_time", "from", "entered at or after this time (ISO 8601)"),
        Filter("to", "live_entry_time", "to", "entered before this time (ISO 8601)"),
    ),
)


DECISIONS = Endpoint(
    name="decisions",
    view="decisions",
    summary="The pre-trade gate's decisions with every rule's verdict, newest first.",
    columns=(
        _c("decision_id", T),
        _c("signal_id", T),
        _c("account", T),
        _c("instrument", T),
        _c("strategy", T),
        _n("variant", T),
        _c("direction", T),
        _c("decision", T, "allow or deny"),
        _c("quantity", INT, "recommended: whole contracts, 0 when denied"),
        _c("proposed_quantity", INT),
        _c("entry_price", D),
        _n("intended_stop", D),
        _n("intended_target", D),
        _n("confidence", F),
        _n("calibrated_confidence", F),
        _n("calibration_version", T),
        _c("rules", Kind.VERDICTS),
        _c("sizing_method", T),
        _c("sizing", T, "the sizing's arithmetic"),
        _c("rules_version", T),
        _c("trading_day", Kind.DATE),
        _n("halt_id", T),
        _c("halt_started", Kind.BOOLEAN),
        _c("decided_at", TS),
        _c("event_id", T),
        _c("ts_ingested", TS),
    ),  # fmt: skip
    order=("decided_at", "decision_id"),
    filters=(
        *_equal("account", "instrument", "strategy", "variant", "decision", "signal_id"),
        Filter("from", "decided_at", "from", "decided at or after this time (ISO 8601)"),
        Filter("to", "decided_at", "to", "decided before this time (ISO 8601)"),
    ),
)


def _uptime(name: str, period: str, summary: str) -> Endpoint:
    return Endpoint(
        name=name,
        view=name,
        summary=summary,
        columns=(
            _c("service", T),
            _c("instance", T),
            _c(period, Kind.DATE),
            _n("availability", D, "up seconds over observed seconds, 0 to 1"),
            _c("up_seconds", D),
            _c("observed_seconds", D),
            _c("unhealthy_seconds", D),
            _c("stopped_seconds", D),
            _c("silent_seconds", D),
            _c("checks", INT),
            _c("unhealthy_checks", INT),
            _c("stops", INT),
            _n("meets_target", Kind.BOOLEAN, "availability of at least 99.5 %"),
        ),  # fmt: skip
        order=(period, "service", "instance"),
        filters=_equal("service", "instance"),
    )


UPTIME_DAILY = _uptime("uptime_daily", "day", "Each process's availability per UTC day.")
UPTIME_MONTHLY = _uptime("uptime_monthly", "month", "Each process's availability per month.")

ENDPOINTS: tuple[Endpoint, ...] = (
    TRADES,
    POSITIONS,
    PERFORMANCE,
    ALERTS,
    ACTIVE_ALERTS,
    SERVICE_CHECKS,
    MARKET_BARS,
    SIGNALS,
    EXECUTIONS,
    REGIMES,
    PERFORMANCE_BY_REGIME,
    PAPER_COMPARISON,
    DECISIONS,
    UPTIME_DAILY,
    UPTIME_MONTHLY,
)
"""Every endpoint, by name in its path."""

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
