"""Events as frozen dataclasses, one per Avro record in ``schemas/avro``.

Names are entity-first, past tense. Money and prices are ``Decimal``; times are aware UTC
``datetime``; enums are ``StrEnum``s whose values equal the Avro symbols. ``to_record`` and
``from_record`` convert to and from the plain dicts fastavro reads and writes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NewType, TypeVar, Union

ExecutionId = NewType("ExecutionId", str)
OrderId = NewType("OrderId", str)
TradeId = NewType("TradeId", str)
SignalId = NewType("SignalId", str)
EventId = NewType("EventId", str)


class Source(StrEnum):
    UNKNOWN = "unknown"
    LIVE = "live"
    IMPORT = "import"
    PAPER = "paper"
    DEMO = "demo"


class Side(StrEnum):
    UNKNOWN = "unknown"
    BUY = "buy"
    SELL = "sell"


class PositionEffect(StrEnum):
    UNKNOWN = "unknown"
    ENTRY = "entry"
    EXIT = "exit"


class OrderState(StrEnum):
    UNKNOWN = "unknown"
    INITIALIZED = "initialized"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    TRIGGER_PENDING = "trigger_pending"
    WORKING = "working"
    CHANGE_PENDING = "change_pending"
    CHANGE_SUBMITTED = "change_submitted"
    CANCEL_PENDING = "cancel_pending"
    CANCEL_SUBMITTED = "cancel_submitted"
    CANCELLED = "cancelled"
    PART_FILLED = "part_filled"
    FILLED = "filled"
    REJECTED = "rejected"


class OrderType(StrEnum):
    UNKNOWN = "unknown"
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    MARKET_IF_TOUCHED = "market_if_touched"


class MarketPosition(StrEnum):
    UNKNOWN = "unknown"
    FLAT = "flat"
    LONG = "long"
    SHORT = "short"


class Direction(StrEnum):
    UNKNOWN = "unknown"
    LONG = "long"
    SHORT = "short"


class ExitReason(StrEnum):
    """Why a trade was closed, read from the closing order's name (``domain.exits``)."""

    UNKNOWN = "unknown"
    TARGET = "target"
    STOP = "stop"
    TRAILING_STOP = "trailing_stop"
    SESSION_CLOSE = "session_close"
    CLOSE = "close"
    REVERSAL = "reversal"
    SIGNAL = "signal"
    EXTERNAL = "external"


class MetricScope(StrEnum):
    """What a performance snapshot covers."""

    UNKNOWN = "unknown"
    ACCOUNT = "account"
    STRATEGY = "strategy"
    VARIANT = "variant"
    INSTRUMENT = "instrument"
    REGIME = "regime"


class MetricWindow(StrEnum):
    """Which of a scope's trades a performance snapshot counts."""

    UNKNOWN = "unknown"
    ALL_TIME = "all_time"
    TRADING_DAY = "trading_day"
    LAST_TRADES = "last_trades"


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    event_id: EventId
    ts_event: datetime
    ts_ingested: datetime
    source: Source = Source.UNKNOWN
    producer: str
    causation_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReported:
    envelope: Envelope
    execution_id: ExecutionId
    account: str
    instrument: str
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    fees: Decimal
    order_id: OrderId | None = None
    order_name: str | None = None
    position_effect: PositionEffect = PositionEffect.UNKNOWN
    strategy: str | None = None
    variant: str | None = None
    signal_id: SignalId | None = None
    trade_id: TradeId | None = None
    order_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCorrected:
    """An execution as the broker's back office amended it: replaces the reported one."""

    envelope: Envelope
    execution_id: ExecutionId
    account: str
    instrument: str
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    fees: Decimal
    executed_at: datetime
    order_id: OrderId | None = None
    order_number: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionBusted:
    """An execution the broker removed: it never happened."""

    envelope: Envelope
    execution_id: ExecutionId
    account: str
    instrument: str
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstrumentDefined:
    """A contract root's specification (NinjaTrader's MasterInstrument or the CLI)."""

    envelope: Envelope
    root: str
    instrument: str | None = None
    name: str
    tick_size: Decimal
    point_value: Decimal
    currency: str
    exchange: str | None = None
    session_template: str | None = None
    instrument_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionDrift:
    """NinjaTrader's position and the derived one disagree (or agree again: ``resolved``)."""

    envelope: Envelope
    account: str
    instrument: str
    reported: int
    derived: int
    since: datetime
    resolved: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdated:
    envelope: Envelope
    order_id: OrderId
    account: str
    instrument: str
    side: Side
    order_type: OrderType
    state: OrderState
    quantity: int
    filled: int = 0
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    average_fill_price: Decimal | None = None
    order_name: str | None = None
    strategy: str | None = None
    error: str | None = None
    order_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdated:
    envelope: Envelope
    account: str
    instrument: str
    market_position: MarketPosition
    quantity: int
    average_price: Decimal
    strategy: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalEmitted:
    envelope: Envelope
    signal_id: SignalId
    account: str | None = None
    instrument: str
    strategy: str
    variant: str | None = None
    direction: Direction
    confidence: float | None = None
    intended_stop: Decimal | None = None
    intended_target: Decimal | None = None
    features: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class BarClosed:
    envelope: Envelope
    instrument: str
    period: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeHeartbeat:
    envelope: Envelope
    connection: str
    accounts: tuple[str, ...] = ()
    sequence: int
    queue_depth: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeClosed:
    envelope: Envelope
    trade_id: TradeId
    account: str
    instrument: str
    strategy: str | None = None
    variant: str | None = None
    signal_id: SignalId | None = None
    direction: Direction
    quantity: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    point_value: Decimal
    currency: str
    gross_pnl: Decimal
    commission: Decimal
    net_pnl: Decimal
    mae: Decimal | None = None
    mfe: Decimal | None = None
    exit_name: str | None = None
    execution_ids: tuple[ExecutionId, ...]
    round_trip_id: str | None = None
    fees: Decimal | None = None
    """Apart from ``commission`` since schema v3; None in trades derived before it."""
    entry_name: str | None = None
    exit_reason: ExitReason = ExitReason.UNKNOWN
    points: Decimal | None = None
    ticks: Decimal | None = None
    duration_micros: int | None = None
    initial_stop: Decimal | None = None
    risk: Decimal | None = None
    r_multiple: Decimal | None = None
    revision: int = 0
    """0 when first derived; a correction of its executions publishes the next revision."""
    supersedes: str | None = None
    """The event id of the revision this one replaces."""
    correction_id: str | None = None
    """The event id of the ExecutionCorrected or ExecutionBusted behind this revision."""
    voided: bool = False
    """The correction left no such trade: it no longer counts."""
    etd: Decimal | None = None
    """End trade drawdown as NinjaTrader reported it (imported trades, since schema v6)."""
    covered_by: str | None = None
    """An imported trade voided because this trade, derived from executions, covers it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChanged:
    envelope: Envelope
    account: str
    instrument: str
    strategy: str | None = None
    sequence: int
    execution_id: ExecutionId
    quantity: int
    average_price: Decimal | None = None
    oldest_entry: datetime | None = None
    round_trip_id: str | None = None
    point_value: Decimal
    currency: str
    open_costs: Decimal
    realized_pnl: Decimal
    initial_stop: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeReported:
    envelope: Envelope
    trade_number: int
    account: str
    instrument: str
    strategy: str | None = None
    direction: Direction
    quantity: int
    entry_price: Decimal
    exit_price: Decimal
    entry_time: datetime
    exit_time: datetime
    entry_name: str | None = None
    exit_name: str | None = None
    profit: Decimal
    cum_net_profit: Decimal | None = None
    commission: Decimal
    fees: Decimal
    mae: Decimal | None = None
    mfe: Decimal | None = None
    etd: Decimal | None = None
    bars: int | None = None
    currency: str = "USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceSnapshot:
    envelope: Envelope
    snapshot_id: str
    scope: MetricScope
    scope_key: str
    account: str
    strategy: str | None = None
    variant: str | None = None
    instrument: str | None = None
    window: MetricWindow
    window_key: str
    definitions_version: int
    scope_trades: int
    currency: str | None = None
    as_of_trade_id: str | None = None
    trades: int
    wins: int
    losses: int
    breakevens: int
    win_rate: float | None = None
    nt_percent_profitable: float | None = None
    gross_profit: Decimal
    gross_loss: Decimal
    net_profit: Decimal
    avg_win: Decimal | None = None
    avg_loss: Decimal | None = None
    payoff_ratio: float | None = None
    profit_factor: float | None = None
    expectancy: Decimal | None = None
    max_drawdown: Decimal
    max_drawdown_pct: float | None = None
    current_drawdown: Decimal
    recovery_factor: float | None = None
    trading_days: int
    sharpe: float | None = None
    sortino: float | None = None
    nt_sharpe_monthly: float | None = None
    sqn: float | None = None
    sqn_basis: str
    avg_r: float | None = None
    longest_win_streak: int
    longest_loss_streak: int
    current_win_streak: int = 0
    current_loss_streak: int = 0
    avg_mae: Decimal | None = None
    avg_mfe: Decimal | None = None
    avg_etd: Decimal | None = None
    entry_efficiency: float | None = None
    exit_efficiency: float | None = None
    total_efficiency: float | None = None
    first_exit: datetime | None = None
    last_exit: datetime | None = None


class PhaseAction(StrEnum):
    UNKNOWN = "unknown"
    STARTED = "started"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseChanged:
    """A phase started or was rolled back; see the schema's docs."""

    envelope: Envelope
    phase: str
    action: PhaseAction
    settings: Mapping[str, str] = field(default_factory=dict)
    previous: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, int] = field(default_factory=dict)
    ends: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceChecked:
    """A process checked its own health; see the schema's docs for the figures' names."""

    envelope: Envelope
    service: str
    instance: str
    healthy: bool
    checks: Mapping[str, bool] = field(default_factory=dict)
    figures: Mapping[str, float] = field(default_factory=dict)
    interval_seconds: int = 30
    started_at: datetime


class AlertState(StrEnum):
    UNKNOWN = "unknown"
    RAISED = "raised"
    RESOLVED = "resolved"


class Severity(StrEnum):
    UNKNOWN = "unknown"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChanged:
    """An alert rule's condition began or ended holding for one key."""

    envelope: Envelope
    rule: str
    key: str
    state: AlertState
    severity: Severity
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)
    raised_at: datetime

    @property
    def alert_id(self) -> str:
        """The alert's identity across replays: rule, key and the event time it was raised at."""
        return f"{self.rule}|{self.key}|{self.raised_at.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSilenced:
    """Alerts matching ``matchers`` are not delivered from ``starts_at`` to ``ends_at``."""

    envelope: Envelope
    silence_id: str
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""


class VolatilityRegime(StrEnum):
    UNKNOWN = "unknown"
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class TrendRegime(StrEnum):
    UNKNOWN = "unknown"
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    RANGING = "ranging"


class Regime(StrEnum):
    """The combined label: ``<volatility>_vol_<trend>``, or ``warming_up``."""

    UNKNOWN = "unknown"
    WARMING_UP = "warming_up"
    LOW_VOL_TRENDING_UP = "low_vol_trending_up"
    LOW_VOL_TRENDING_DOWN = "low_vol_trending_down"
    LOW_VOL_RANGING = "low_vol_ranging"
    NORMAL_VOL_TRENDING_UP = "normal_vol_trending_up"
    NORMAL_VOL_TRENDING_DOWN = "normal_vol_trending_down"
    NORMAL_VOL_RANGING = "normal_vol_ranging"
    HIGH_VOL_TRENDING_UP = "high_vol_trending_up"
    HIGH_VOL_TRENDING_DOWN = "high_vol_trending_down"
    HIGH_VOL_RANGING = "high_vol_ranging"

    @classmethod
    def of(cls, volatility: VolatilityRegime, trend: TrendRegime) -> Regime:
        return cls(f"{volatility}_vol_{trend}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeLabeled:
    """An instrument's regime label changed: in force from ``envelope.ts_event`` (the bar's close)
    until the series' next label; see the schema's docs."""

    envelope: Envelope
    instrument: str
    period: str
    label: Regime
    volatility: VolatilityRegime | None = None
    trend: TrendRegime | None = None
    atr: Decimal | None = None
    atr_percentile: Decimal | None = None
    trend_strength: Decimal | None = None
    classifier_version: int
    bars: int = 0


class ExperimentAction(StrEnum):
    UNKNOWN = "unknown"
    CONFIGURED = "configured"
    PAUSED = "paused"
    RESUMED = "resumed"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    KILLED = "killed"
    REVIVED = "revived"


class ExperimentArm(StrEnum):
    UNKNOWN = "unknown"
    CONTROL = "control"
    TREATMENT = "treatment"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentChanged:
    """An A/B experiment was configured or changed; see the schema's docs."""

    envelope: Envelope
    experiment_id: str
    action: ExperimentAction
    actor: str
    reason: str = ""
    strategy: str | None = None
    control_variant: str | None = None
    treatment_variant: str | None = None
    ramp: tuple[int, ...] = ()
    min_trades_per_step: int = 0
    min_days_per_step: int = 0
    max_drawdown: Decimal | None = None
    daily_loss_limit: Decimal | None = None
    auto_promote: bool = False
    step: int = 0
    phase: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantAssigned:
    """The bridge answered which arm runs a signal; see the schema's docs."""

    envelope: Envelope
    experiment_id: str
    signal_id: str
    strategy: str
    arm: ExperimentArm
    variant: str
    step: int
    treatment_percent: int
    bucket: int


class Decision(StrEnum):
    UNKNOWN = "unknown"
    ALLOW = "allow"
    DENY = "deny"


class Verdict(StrEnum):
    UNKNOWN = "unknown"
    PASS = "pass"
    FAIL = "fail"


class GateMode(StrEnum):
    UNKNOWN = "unknown"
    ENFORCE = "enforce"
    OBSERVE = "observe"


class GateAction(StrEnum):
    UNKNOWN = "unknown"
    CONFIGURED = "configured"
    HALTED = "halted"
    RESUMED = "resumed"
    FLATTENED = "flattened"


class CalibrationMethod(StrEnum):
    UNKNOWN = "unknown"
    IDENTITY = "identity"
    ISOTONIC = "isotonic"
    PLATT = "platt"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleVerdict:
    """One rule's verdict on a proposed entry, with its figure and limit."""

    rule: str
    kind: str
    mode: GateMode
    verdict: Verdict
    value: Decimal | None = None
    limit: Decimal | None = None
    reason: str
    halt: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeDecided:
    """The pre-trade gate's decision on a proposed entry; see the schema's docs."""

    envelope: Envelope
    decision_id: str
    signal_id: SignalId
    account: str
    instrument: str
    strategy: str
    variant: str | None = None
    direction: Direction
    entry_price: Decimal
    intended_stop: Decimal | None = None
    intended_target: Decimal | None = None
    confidence: float | None = None
    proposed_quantity: int
    decision: Decision
    quantity: int
    rules: tuple[RuleVerdict, ...] = ()
    sizing_method: str
    sizing: str
    calibrated_confidence: float | None = None
    calibration_version: str | None = None
    rules_version: str
    trading_day: str
    halt_id: str | None = None
    halt_started: bool = False
    halt_strategy: str | None = None
    halt_instrument: str | None = None
    as_of: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineFigures:
    """The figures of one scope over a baseline's period; see the schema's docs."""

    scope: MetricScope
    scope_key: str
    account: str
    strategy: str | None = None
    variant: str | None = None
    currency: str | None = None
    trades: int
    wins: int
    losses: int
    win_rate: float | None = None
    net_profit: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    profit_factor: float | None = None
    expectancy: Decimal | None = None
    max_drawdown: Decimal
    sharpe: float | None = None
    sortino: float | None = None
    sharpe_per_trade: float | None = None
    sortino_per_trade: float | None = None
    avg_r: float | None = None
    predictions: int = 0
    hit_rate: float | None = None
    brier: float | None = None
    first_exit: datetime | None = None
    last_exit: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineFrozen:
    """A period's figures frozen under a name (``fillstream baseline freeze``)."""

    envelope: Envelope
    name: str
    from_day: str
    to_day: str
    account: str | None = None
    strategy: str | None = None
    variant: str | None = None
    actor: str
    note: str | None = None
    definitions_version: int
    trades_digest: str
    figures: tuple[BaselineFigures, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GateChanged:
    """The gate's rules configured, a scope halted or resumed, an account flattened on a halt."""

    envelope: Envelope
    action: GateAction
    halt_id: str | None = None
    account: str | None = None
    strategy: str | None = None
    instrument: str | None = None
    rule: str | None = None
    value: Decimal | None = None
    limit: Decimal | None = None
    trading_day: str | None = None
    actor: str
    reason: str = ""
    rules_version: str | None = None
    rules_text: str | None = None
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationFitted:
    """A confidence calibration model fitted walk-forward; see the schema's docs."""

    envelope: Envelope
    model_id: str
    strategy: str
    regime: str | None = None
    version: int
    method: CalibrationMethod
    thresholds_x: tuple[float, ...] = ()
    thresholds_y: tuple[float, ...] = ()
    platt_a: float = 0.0
    platt_b: float = 0.0
    fitted_at: datetime
    trained_on: int
    held_out: int = 0
    brier_raw: float | None = None
    brier_calibrated: float | None = None
    ece_raw: float | None = None
    ece_calibrated: float | None = None


Event = (
    ExecutionReported
    | OrderUpdated
    | PositionUpdated
    | SignalEmitted
    | BarClosed
    | BridgeHeartbeat
    | TradeClosed
    | TradeReported
    | PerformanceSnapshot
    | PositionChanged
    | PhaseChanged
    | ServiceChecked
    | AlertChanged
    | AlertSilenced
    | RegimeLabeled
    | ExperimentChanged
    | VariantAssigned
    | ExecutionCorrected
    | ExecutionBusted
    | InstrumentDefined
    | PositionDrift
    | TradeDecided
    | GateChanged
    | CalibrationFitted
    | BaselineFrozen
)
EVENT_TYPES: dict[str, type[Any]] = {
    f"fillstream.{cls.__name__}": cls
    for cls in (
        ExecutionReported,
        OrderUpdated,
        PositionUpdated,
        SignalEmitted,
        BarClosed,
        BridgeHeartbeat,
        TradeClosed,
        TradeReported,
        PerformanceSnapshot,
        PositionChanged,
        PhaseChanged,
        ServiceChecked,
        AlertChanged,
        AlertSilenced,
        RegimeLabeled,
        ExperimentChanged,
        VariantAssigned,
        ExecutionCorrected,
        ExecutionBusted,
        InstrumentDefined,
        PositionDrift,
        TradeDecided,
        GateChanged,
        CalibrationFitted,
        BaselineFrozen,
    )
}
"""Event classes by Avro full name."""


def schema_name(event: Event) -> str:
    """The Avro full name of an event's record (``fillstream.ExecutionReported``)."""
    return f"fillstream.{type(event).__name__}"


def to_record(event: Any) -> dict[str, Any]:
    """The dict fastavro writes for a dataclass event (enums become their symbols)."""
    return {name: convert(getattr(event, name)) for name, convert in _converters(type(event))}


def _to_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_record(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_to_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_value(v) for k, v in value.items()}
    return value


def _same(value: Any) -> Any:
    return value


def _converters(cls: type[Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Per field of ``cls``: its name and how its value becomes an Avro value.

    Decided once per class from the type hints, so encoding does not inspect every value.
    """
    cached = _CONVERTERS.get(cls)
    if cached is not None:
        return cached
    hints = _hints(cls)
    _CONVERTERS[cls] = tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))
    return _CONVERTERS[cls]


def _converter(hint: Any) -> Callable[[Any], Any]:
    optional = typing.get_origin(hint) in (Union, types.UnionType)
    if optional:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    base = getattr(hint, "__supertype__", hint)
    if isinstance(base, type) and base in (str, int, float, Decimal, datetime, bool):
        return _same
    if isinstance(base, type) and issubclass(base, StrEnum):
        convert: Callable[[Any], Any] = _enum_value
    elif dataclasses.is_dataclass(base):
        convert = to_record
    else:
        return _to_value  # tuples and mappings: walked value by value
    return _or_none(convert) if optional else convert


def _enum_value(value: StrEnum) -> str:
    return value.value


def _or_none(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


_CONVERTERS: dict[type[Any], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


T = TypeVar("T")


def from_record(cls: type[T], record: Mapping[str, Any]) -> T:
    """Build a dataclass event from the dict fastavro read; unknown fields are ignored."""
    hints = _hints(cls)
    kwargs = {
        f.name: _from_value(hints[f.name], record[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in record
    }
    return cls(**kwargs)


def _from_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_value(inner[0], value)
    if origin is tuple:
        (item, _) = typing.get_args(hint)
        return tuple(_from_value(item, v) for v in value)
    if origin is not None and origin is not Mapping and isinstance(origin, type):
        return value
    if origin is Mapping or hint is Mapping:
        return dict(value)
    base = getattr(hint, "__supertype__", hint)  # NewType
    if dataclasses.is_dataclass(base):
        return from_record(base, value)  # type: ignore[arg-type]
    if isinstance(base, type) and issubclass(base, StrEnum):
        return base(value)
    if base is Decimal and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints
