"""The single-object codec: round trips for every event, the header, fingerprints and errors."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import avro.schema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import CodecError
from schemas import (
    EVENT_TYPES,
    AlertChanged,
    AlertSilenced,
    AlertState,
    BarClosed,
    BaselineFigures,
    BaselineFrozen,
    BridgeHeartbeat,
    CalibrationFitted,
    CalibrationMethod,
    Decision,
    Direction,
    Envelope,
    EventId,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionId,
    ExecutionReported,
    ExitReason,
    ExperimentAction,
    ExperimentArm,
    ExperimentChanged,
    GateAction,
    GateChanged,
    GateMode,
    InstrumentDefined,
    MarketPosition,
    MetricScope,
    MetricWindow,
    OrderState,
    OrderType,
    OrderUpdated,
    PerformanceSnapshot,
    PhaseAction,
    PhaseChanged,
    PositionChanged,
    PositionDrift,
    PositionEffect,
    PositionUpdated,
    Regime,
    RegimeLabeled,
    RuleVerdict,
    ServiceChecked,
    Severity,
    Side,
    SignalEmitted,
    Source,
    TradeClosed,
    TradeDecided,
    TradeReported,
    TrendRegime,
    VariantAssigned,
    Verdict,
    VolatilityRegime,
    default_codec,
    default_registry,
)
from schemas.registry import fingerprint

# -- strategies: one per event dataclass ---------------------------------------------------------

ids = st.text(min_size=1, max_size=24)
texts = st.text(max_size=40)
ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)
longs = st.integers(min_value=-(2**63), max_value=2**63 - 1)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
# At most 10 fractional digits (the schemas' scale), |x| < 10**15.
prices = st.integers(min_value=0, max_value=10).flatmap(
    lambda places: st.decimals(
        min_value=-(10**15) + 1, max_value=10**15 - 1, places=places, allow_nan=False
    )
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def id_tuples() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(ids, max_size=4).map(tuple)


envelopes = st.builds(
    Envelope,
    event_id=ids,
    ts_event=times,
    ts_ingested=times,
    source=st.sampled_from(Source),
    producer=texts,
    causation_ids=id_tuples(),
)

EVENTS: dict[type[Any], st.SearchStrategy[Any]] = {
    ExecutionReported: st.builds(
        ExecutionReported,
        envelope=envelopes,
        execution_id=ids,
        account=texts,
        instrument=texts,
        side=st.sampled_from(Side),
        quantity=ints,
        price=prices,
        commission=prices,
        fees=prices,
        order_id=optional(ids),
        order_name=optional(texts),
        position_effect=st.sampled_from(PositionEffect),
        strategy=optional(texts),
        variant=optional(texts),
        signal_id=optional(ids),
        trade_id=optional(ids),
        order_number=optional(ids),
    ),
    ExecutionCorrected: st.builds(
        ExecutionCorrected,
        envelope=envelopes,
        execution_id=ids,
        account=texts,
        instrument=texts,
        side=st.sampled_from(Side),
        quantity=ints,
        price=prices,
        commission=prices,
        fees=prices,
        executed_at=times,
        order_id=optional(ids),
        order_number=optional(ids),
        reason=optional(texts),
    ),
    ExecutionBusted: st.builds(
        ExecutionBusted,
        envelope=envelopes,
        execution_id=ids,
        account=texts,
        instrument=texts,
        reason=optional(texts),
    ),
    InstrumentDefined: st.builds(
        InstrumentDefined,
        envelope=envelopes,
        root=texts,
        instrument=optional(texts),
        name=texts,
        tick_size=prices,
        point_value=prices,
        currency=texts,
        exchange=optional(texts),
        session_template=optional(texts),
        instrument_type=optional(texts),
    ),
    PositionDrift: st.builds(
        PositionDrift,
        envelope=envelopes,
        account=texts,
        instrument=texts,
        reported=ints,
        derived=ints,
        since=times,
        resolved=st.booleans(),
    ),
    OrderUpdated: st.builds(
        OrderUpdated,
        envelope=envelopes,
        order_id=ids,
        account=texts,
        instrument=texts,
        side=st.sampled_from(Side),
        order_type=st.sampled_from(OrderType),
        state=st.sampled_from(OrderState),
        quantity=ints,
        filled=ints,
        limit_price=optional(prices),
        stop_price=optional(prices),
        average_fill_price=optional(prices),
        order_name=optional(texts),
        strategy=optional(texts),
        error=optional(texts),
        order_number=optional(ids),
    ),
    PositionUpdated: st.builds(
        PositionUpdated,
        envelope=envelopes,
        account=texts,
        instrument=texts,
        market_position=st.sampled_from(MarketPosition),
        quantity=ints,
        average_price=prices,
        strategy=optional(texts),
    ),
    SignalEmitted: st.builds(
        SignalEmitted,
        envelope=envelopes,
        signal_id=ids,
        account=optional(texts),
        instrument=texts,
        strategy=texts,
        variant=optional(texts),
        direction=st.sampled_from(Direction),
        confidence=optional(finite_floats),
        intended_stop=optional(prices),
        intended_target=optional(prices),
        features=st.dictionaries(texts, finite_floats, max_size=5),
    ),
    BarClosed: st.builds(
        BarClosed,
        envelope=envelopes,
        instrument=texts,
        period=texts,
        open=prices,
        high=prices,
        low=prices,
        close=prices,
        volume=longs,
        bid=optional(prices),
        ask=optional(prices),
    ),
    BridgeHeartbeat: st.builds(
        BridgeHeartbeat,
        envelope=envelopes,
        connection=texts,
        accounts=id_tuples(),
        sequence=longs,
        queue_depth=ints,
    ),
    PhaseChanged: st.builds(
        PhaseChanged,
        envelope=envelopes,
        phase=ids,
        action=st.sampled_from(PhaseAction),
        settings=st.dictionaries(texts, texts, max_size=4),
        previous=st.dictionaries(texts, texts, max_size=4),
        groups=st.dictionaries(texts, longs, max_size=4),
        ends=st.dictionaries(texts, longs, max_size=4),
    ),
    ServiceChecked: st.builds(
        ServiceChecked,
        envelope=envelopes,
        service=texts,
        instance=texts,
        healthy=st.booleans(),
        checks=st.dictionaries(texts, st.booleans(), max_size=4),
        figures=st.dictionaries(texts, finite_floats, max_size=4),
        interval_seconds=ints,
        started_at=times,
    ),
    AlertChanged: st.builds(
        AlertChanged,
        envelope=envelopes,
        rule=ids,
        key=texts,
        state=st.sampled_from(AlertState),
        severity=st.sampled_from(Severity),
        summary=texts,
        labels=st.dictionaries(texts, texts, max_size=4),
        raised_at=times,
    ),
    AlertSilenced: st.builds(
        AlertSilenced,
        envelope=envelopes,
        silence_id=ids,
        matchers=st.dictionaries(texts, texts, max_size=4),
        starts_at=times,
        ends_at=times,
        created_by=texts,
        comment=texts,
    ),
    ExperimentChanged: st.builds(
        ExperimentChanged,
        envelope=envelopes,
        experiment_id=ids,
        action=st.sampled_from(ExperimentAction),
        actor=texts,
        reason=texts,
        strategy=optional(texts),
        control_variant=optional(texts),
        treatment_variant=optional(texts),
        ramp=st.lists(ints, max_size=5).map(tuple),
        min_trades_per_step=ints,
        min_days_per_step=ints,
        max_drawdown=optional(prices),
        daily_loss_limit=optional(prices),
        auto_promote=st.booleans(),
        step=ints,
    ),
    TradeDecided: st.builds(
        TradeDecided,
        envelope=envelopes,
        decision_id=ids,
        signal_id=ids,
        account=texts,
        instrument=texts,
        strategy=texts,
        variant=optional(texts),
        direction=st.sampled_from(Direction),
        entry_price=prices,
        intended_stop=optional(prices),
        intended_target=optional(prices),
        confidence=optional(finite_floats),
        proposed_quantity=ints,
        decision=st.sampled_from(Decision),
        quantity=ints,
        rules=st.lists(
            st.builds(
                RuleVerdict,
                rule=texts,
                kind=texts,
                mode=st.sampled_from(GateMode),
                verdict=st.sampled_from(Verdict),
                value=optional(prices),
                limit=optional(prices),
                reason=texts,
                halt=st.booleans(),
            ),
            max_size=4,
        ).map(tuple),
        sizing_method=texts,
        sizing=texts,
        calibrated_confidence=optional(finite_floats),
        calibration_version=optional(texts),
        rules_version=texts,
        trading_day=texts,
        halt_id=optional(ids),
        halt_started=st.booleans(),
        halt_strategy=optional(texts),
        halt_instrument=optional(texts),
        as_of=st.dictionaries(texts, longs, max_size=4),
    ),
    GateChanged: st.builds(
        GateChanged,
        envelope=envelopes,
        action=st.sampled_from(GateAction),
        halt_id=optional(ids),
        account=optional(texts),
        strategy=optional(texts),
        instrument=optional(texts),
        rule=optional(texts),
        value=optional(prices),
        limit=optional(prices),
        trading_day=optional(texts),
        actor=texts,
        reason=texts,
        rules_version=optional(texts),
        rules_text=optional(texts),
        instruments=id_tuples(),
    ),
    CalibrationFitted: st.builds(
        CalibrationFitted,
        envelope=envelopes,
        model_id=ids,
        strategy=texts,
        regime=optional(texts),
        version=ints,
        method=st.sampled_from(CalibrationMethod),
        thresholds_x=st.lists(finite_floats, max_size=5).map(tuple),
        thresholds_y=st.lists(finite_floats, max_size=5).map(tuple),
        platt_a=finite_floats,
        platt_b=finite_floats,
        fitted_at=times,
        trained_on=ints,
        held_out=ints,
        brier_raw=optional(finite_floats),
        brier_calibrated=optional(finite_floats),
        ece_raw=optional(finite_floats),
        ece_calibrated=optional(finite_floats),
    ),
    BaselineFrozen: st.builds(
        BaselineFrozen,
        envelope=envelopes,
        name=texts,
        from_day=texts,
        to_day=texts,
        account=optional(texts),
        strategy=optional(texts),
        variant=optional(texts),
        actor=texts,
        note=optional(texts),
        definitions_version=ints,
        trades_digest=texts,
        figures=st.lists(
            st.builds(
                BaselineFigures,
                scope=st.sampled_from(MetricScope),
                scope_key=texts,
                account=texts,
                strategy=optional(texts),
                variant=optional(texts),
                currency=optional(texts),
                trades=ints,
                wins=ints,
                losses=ints,
                win_rate=optional(finite_floats),
                net_profit=prices,
                gross_profit=prices,
                gross_loss=prices,
                profit_factor=optional(finite_floats),
                expectancy=optional(prices),
                max_drawdown=prices,
                sharpe=optional(finite_floats),
                sortino=optional(finite_floats),
                sharpe_per_trade=optional(finite_floats),
                sortino_per_trade=optional(finite_floats),
                avg_r=optional(finite_floats),
                predictions=ints,
                hit_rate=optional(finite_floats),
                brier=optional(finite_floats),
                first_exit=optional(times),
                last_exit=optional(times),
            ),
            max_size=3,
        ).map(tuple),
    ),
    VariantAssigned: st.builds(
        VariantAssigned,
        envelope=envelopes,
        experiment_id=ids,
        signal_id=ids,
        strategy=texts,
        arm=st.sampled_from(ExperimentArm),
        variant=texts,
        step=ints,
        treatment_percent=ints,
        bucket=ints,
    ),
    RegimeLabeled: st.builds(
        RegimeLabeled,
        envelope=envelopes,
        instrument=texts,
        period=texts,
        label=st.sampled_from(Regime),
        volatility=optional(st.sampled_from(VolatilityRegime)),
        trend=optional(st.sampled_from(TrendRegime)),
        atr=optional(prices),
        atr_percentile=optional(prices),
        trend_strength=optional(prices),
        classifier_version=ints,
        bars=longs,
    ),
    TradeClosed: st.builds(
        TradeClosed,
        envelope=envelopes,
        trade_id=ids,
        account=texts,
        instrument=texts,
        strategy=optional(texts),
        variant=optional(texts),
        signal_id=optional(ids),
        direction=st.sampled_from(Direction),
        quantity=ints,
        entry_time=times,
        exit_time=times,
        entry_price=prices,
        exit_price=prices,
        point_value=prices,
        currency=texts,
        gross_pnl=prices,
        commission=prices,
        net_pnl=prices,
        mae=optional(prices),
        mfe=optional(prices),
        exit_name=optional(texts),
        execution_ids=id_tuples(),
        round_trip_id=optional(ids),
        fees=optional(prices),
        entry_name=optional(texts),
        exit_reason=st.sampled_from(ExitReason),
        points=optional(prices),
        ticks=optional(prices),
        duration_micros=optional(longs),
        initial_stop=optional(prices),
        risk=optional(prices),
        r_multiple=optional(prices),
        revision=ints,
        supersedes=optional(ids),
        correction_id=optional(ids),
        voided=st.booleans(),
        etd=optional(prices),
        covered_by=optional(ids),
    ),
    TradeReported: st.builds(
        TradeReported,
        envelope=envelopes,
        trade_number=ints,
        account=texts,
        instrument=texts,
        strategy=optional(texts),
        direction=st.sampled_from(Direction),
        quantity=ints,
        entry_price=prices,
        exit_price=prices,
        entry_time=times,
        exit_time=times,
        entry_name=optional(texts),
        exit_name=optional(texts),
        profit=prices,
        cum_net_profit=optional(prices),
        commission=prices,
        fees=prices,
        mae=optional(prices),
        mfe=optional(prices),
        etd=optional(prices),
        bars=optional(ints),
        currency=texts,
    ),
    PositionChanged: st.builds(
        PositionChanged,
        envelope=envelopes,
        account=texts,
        instrument=texts,
        strategy=optional(texts),
        sequence=longs,
        execution_id=ids,
        quantity=ints,
        average_price=optional(prices),
        oldest_entry=optional(times),
        round_trip_id=optional(ids),
        point_value=prices,
        currency=texts,
        open_costs=prices,
        realized_pnl=prices,
        initial_stop=optional(prices),
    ),
    PerformanceSnapshot: st.builds(
        PerformanceSnapshot,
        envelope=envelopes,
        snapshot_id=ids,
        scope=st.sampled_from(MetricScope),
        scope_key=texts,
        account=texts,
        strategy=optional(texts),
        variant=optional(texts),
        instrument=optional(texts),
        window=st.sampled_from(MetricWindow),
        window_key=texts,
        definitions_version=ints,
        scope_trades=longs,
        currency=optional(texts),
        as_of_trade_id=optional(ids),
        trades=ints,
        wins=ints,
        losses=ints,
        breakevens=ints,
        win_rate=optional(finite_floats),
        nt_percent_profitable=optional(finite_floats),
        gross_profit=prices,
        gross_loss=prices,
        net_profit=prices,
        avg_win=optional(prices),
        avg_loss=optional(prices),
        payoff_ratio=optional(finite_floats),
        profit_factor=optional(finite_floats),
        expectancy=optional(prices),
        max_drawdown=prices,
        max_drawdown_pct=optional(finite_floats),
        current_drawdown=prices,
        recovery_factor=optional(finite_floats),
        trading_days=ints,
        sharpe=optional(finite_floats),
        sortino=optional(finite_floats),
        nt_sharpe_monthly=optional(finite_floats),
        sqn=optional(finite_floats),
        sqn_basis=texts,
        avg_r=optional(finite_floats),
        longest_win_streak=ints,
        longest_loss_streak=ints,
        current_win_streak=ints,
        current_loss_streak=ints,
        avg_mae=optional(prices),
        avg_mfe=optional(prices),
        avg_etd=optional(prices),
        entry_efficiency=optional(finite_floats),
        exit_efficiency=optional(finite_floats),
        total_efficiency=optional(finite_floats),
        first_exit=optional(times),
        last_exit=optional(times),
    ),
}

NAMES = sorted(EVENT_TYPES)


def test_every_event_type_has_a_strategy() -> None:
    assert set(EVENTS) == set(EVENT_TYPES.values())


@pytest.mark.parametrize("name", NAMES)
def test_dataclass_fields_match_the_schema(name: str) -> None:
    schema = default_registry().expanded(name)
    fields = [field.name for field in dataclasses.fields(EVENT_TYPES[name])]
    assert fields == [field["name"] for field in schema["fields"]]


# -- round trip and header -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    event = data.draw(EVENTS[EVENT_TYPES[name]])
    decoded = default_codec().decode(default_codec().encode(event))
    assert type(decoded) is type(event)
    assert decoded == event


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_payload_starts_with_the_single_object_header(name: str, data: st.DataObject) -> None:
    payload = default_codec().encode(data.draw(EVENTS[EVENT_TYPES[name]]))
    assert payload[:2] == b"\xc3\x01"
    assert payload[2:10] == default_registry().fingerprint(name)


def test_payloads_of_different_types_carry_different_fingerprints() -> None:
    fingerprints = {default_registry().fingerprint(name) for name in NAMES}
    assert len(fingerprints) == len(NAMES)


# -- fingerprints against independent references ---------------------------------------------------

# The Avro spec's 64-bit Rabin fingerprint ("Schema Fingerprints"), table algorithm.
EMPTY = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


FP_TABLE = _table()


def rabin(data: bytes) -> int:
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def without_logical_types(schema: Any) -> Any:
    """The schema minus logical-type attributes, which the canonical form strips anyway.

    avro 1.12's canonical form keeps logical-typed primitives as {"type":"long"} instead of
    the spec's "long" (fastavro and Java follow the spec), so avro only sees them stripped.
    """
    if isinstance(schema, list):
        return [without_logical_types(item) for item in schema]
    if isinstance(schema, dict):
        dropped = {"logicalType", "precision", "scale"}
        return {k: without_logical_types(v) for k, v in schema.items() if k not in dropped}
    return schema


def test_reference_reproduces_the_published_fingerprint_of_int() -> None:
    # Apache Avro's own tests (lang/ruby/test/test_fingerprints.rb): CRC-64-AVRO of "int" is
    # 8247732601305521295, single-object header c3 01 8f 5c 39 3f 1a d5 75 72.
    assert rabin(b'"int"') == 8247732601305521295
    assert fingerprint("int") == bytes.fromhex("8f5c393f1ad57572")


@pytest.mark.parametrize("name", NAMES)
def test_fingerprint_matches_the_reference_over_avros_canonical_form(name: str) -> None:
    expanded = default_registry().expanded(name)
    canonical = avro.schema.parse(json.dumps(without_logical_types(expanded))).canonical_form
    expected = rabin(canonical.encode()).to_bytes(8, "little")
    assert default_registry().fingerprint(name) == expected


@pytest.mark.parametrize("name", NAMES)
def test_fingerprint_matches_the_avro_package(name: str) -> None:
    schema = avro.schema.parse(json.dumps(without_logical_types(default_registry().expanded(name))))
    assert default_registry().fingerprint(name) == schema.fingerprint("CRC-64-AVRO")


# -- errors ----------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
FILL = ExecutionReported(
    envelope=Envelope(event_id=EventId("e-1"), ts_event=NOW, ts_ingested=NOW, producer="test/0"),
    execution_id=ExecutionId("x-1"),
    account="Sim101",
    instrument="NQ 12-26",
    side=Side.BUY,
    quantity=1,
    price=Decimal("21000.25"),
    commission=Decimal("2.25"),
    fees=Decimal("1.1"),
)


def test_bad_marker_is_a_codec_error() -> None:
    payload = default_codec().encode(FILL)
    with pytest.raises(CodecError, match="c301"):
        default_codec().decode(b"\x00\x01" + payload[2:])


def test_payload_shorter_than_the_header_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="shorter than the 10-byte"):
        default_codec().decode(b"\xc3\x01\x00")


def test_unknown_fingerprint_is_a_codec_error() -> None:
    payload = default_codec().encode(FILL)
    unknown = bytes(b ^ 0xFF for b in payload[2:10])
    with pytest.raises(CodecError, match=f"unknown writer schema fingerprint {unknown.hex()}"):
        default_codec().decode(payload[:2] + unknown + payload[10:])


def test_every_truncation_of_the_body_is_a_codec_error() -> None:
    payload = default_codec().encode(FILL)
    for end in range(10, len(payload)):
        with pytest.raises(CodecError, match="fillstream.ExecutionReported: payload body"):
            default_codec().decode(payload[:end])


def test_trailing_bytes_are_a_codec_error() -> None:
    payload = default_codec().encode(FILL)
    with pytest.raises(CodecError, match="fillstream.ExecutionReported: 2 unexpected bytes"):
        default_codec().decode(payload + b"\x00\x00")


@given(body=st.binary(max_size=300))
def test_garbage_body_decodes_or_raises_a_codec_error(body: bytes) -> None:
    header = default_codec().encode(FILL)[:10]
    with contextlib.suppress(CodecError):
        default_codec().decode(header + body)


def test_decimal_beyond_the_scale_is_a_codec_error() -> None:
    event = dataclasses.replace(FILL, price=Decimal("21000.12345678901"))
    with pytest.raises(CodecError, match=r"fillstream\.ExecutionReported\.price: .* 11 fractional"):
        default_codec().encode(event)


def test_decimal_beyond_the_precision_is_a_codec_error() -> None:
    event = dataclasses.replace(FILL, commission=Decimal("1e18"))
    with pytest.raises(CodecError, match=r"ExecutionReported\.commission: .* precision of 28"):
        default_codec().encode(event)


def test_decimal_at_the_limits_encodes() -> None:
    event = dataclasses.replace(FILL, price=Decimal("-999999999999999999.9999999999"))
    assert default_codec().decode(default_codec().encode(event)) == event


def test_string_where_an_int_belongs_is_a_codec_error() -> None:
    event = dataclasses.replace(FILL, quantity="1")  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"fillstream\.ExecutionReported: .*\.quantity"):
        default_codec().encode(event)


def test_int_out_of_range_is_a_codec_error() -> None:
    event = dataclasses.replace(FILL, quantity=2**31)
    with pytest.raises(CodecError, match=r"fillstream\.ExecutionReported: .*\.quantity"):
        default_codec().encode(event)
