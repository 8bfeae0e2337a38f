"""The strategy side of the NinjaTrader AddOn: the sample strategy compiles against the NT8 API's
shape, what the AddOn posts while it trades a scripted morning is exactly the golden stream, that
stream passes the bridge's validation and matches into trades carrying signal, variant and trade
id; and tests/ninjatrader/SignalsHarness.cs checks the link from executions to signals, the
non-blocking assignment, the links file, and the AddOn's bar feed (no bar twice, bounded)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from bridge.parsing import loads, parse_events
from core.settings import PROJECT_ROOT
from domain.contracts import spec_for
from domain.experiments.model import bucket, spec_from_config
from domain.matching import Book, apply
from schemas.events import (
    BarClosed,
    Event,
    ExecutionReported,
    InstrumentDefined,
    PositionUpdated,
    SignalEmitted,
    TradeClosed,
)
from tests.fixtures import ninjascript

SAMPLES = sorted((PROJECT_ROOT / "bridge" / "ninjatrader" / "samples").glob("*.cs"))
STUBS = sorted((PROJECT_ROOT / "tests" / "ninjatrader").glob("*Stubs*.cs"))
HARNESS = PROJECT_ROOT / "tests" / "ninjatrader" / "SignalsHarness.cs"
GOLDEN = PROJECT_ROOT / "tests" / "golden" / "ninjatrader-signals"
STREAM = GOLDEN / "sample_strategy.json"
NOW = datetime(2026, 9, 22, 22, 0, tzinfo=UTC)
# what the harness's scripted bridge runs, as `fillstream experiments` would configure it
EXPERIMENT = "sample-wide-stop"
STRATEGY = "FillstreamSample"
CONTROL, TREATMENT = "tight-stop", "wide-stop"
FIRST_STEP_PERCENT = 10


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("signals")
    sources = [*ninjascript.SOURCES, *SAMPLES, *STUBS, HARNESS]
    return ninjascript.compile_cs(sources, directory / "SignalsHarness.exe", "exe")


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    return parse_events(loads(STREAM.read_bytes()), ts_ingested=NOW, producer="tests")


T = TypeVar("T")


def of(events: list[Event], kind: type[T]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]


def test_the_sample_strategy_compiles_against_the_ninjatrader_api(tmp_path: Path) -> None:
    assert SAMPLES, "bridge/ninjatrader/samples/ holds the sample strategy"
    sources = [*ninjascript.SOURCES, *SAMPLES, *STUBS]
    assert ninjascript.compile_cs(sources, tmp_path / "Sample.dll", "library").is_file()


def test_the_sample_strategy_posts_exactly_the_golden_stream(harness: Path, tmp_path: Path) -> None:
    result = ninjascript.run_harness(harness, "golden", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", "the run logged warnings or errors:\n" + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_strategy.json"]
    assert sorted(p.name for p in GOLDEN.glob("*.json")) == ["sample_strategy.json"]
    assert (tmp_path / "sample_strategy.json").read_bytes() == STREAM.read_bytes(), (
        "sample_strategy.json differs from what the AddOn sends; if the change is intended, "
        f"regenerate with: mono {harness} golden {GOLDEN}"
    )


def test_the_golden_stream_passes_the_bridge_validation(stream: list[Event]) -> None:
    assert stream
    assert {e.envelope.producer for e in stream} == {"fillstream-nt8-addon/0.1.0"}
    assert {e.envelope.source for e in stream} == {"live"}
    assert {type(e) for e in stream} == {
        SignalEmitted, ExecutionReported, PositionUpdated, BarClosed, InstrumentDefined
    }  # fmt: skip


def test_every_execution_carries_its_signal_variant_and_trade(stream: list[Event]) -> None:
    signals = {s.signal_id: s for s in of(stream, SignalEmitted)}
    executions = of(stream, ExecutionReported)
    assert executions
    trades: dict[str, set[str]] = defaultdict(set)
    for e in executions:
        assert e.signal_id in signals, f"{e.execution_id} has no signal"
        signal = signals[e.signal_id]
        assert (e.strategy, e.variant) == (signal.strategy, signal.variant)
        assert e.trade_id
        assert e.order_name is not None and len(e.order_name) <= 50
        trades[e.trade_id].add(e.signal_id)
        # the signal is reported before its first execution
        assert signal.envelope.ts_event < e.envelope.ts_event
    assert all(len(ids) == 1 for ids in trades.values()), "one signal per round trip here"
    # entries are named with the token; stops, targets and the time exit by NinjaTrader's names
    names = {e.order_name for e in executions if e.position_effect == "exit"}
    assert names == {"Stop loss", "Profit target", "Time exit"}
    assert all(" fs:" in str(e.order_name) for e in executions if e.position_effect == "entry")


def test_signals_are_in_both_arms_as_the_bridge_assigns_them(stream: list[Event]) -> None:
    signals = of(stream, SignalEmitted)
    assert len(signals) >= 2
    for s in signals:
        treated = bucket(EXPERIMENT, s.signal_id) < FIRST_STEP_PERCENT * 100
        assert s.strategy == STRATEGY
        assert s.variant == (TREATMENT if treated else CONTROL), s.signal_id
        assert s.intended_stop is not None and s.intended_target is not None
        # stop 12 ticks (control) or 20 ticks (treatment) away, target 24 ticks: NQ ticks are 0.25
        width = abs(s.intended_target - s.intended_stop) / Decimal("0.25")
        assert width == (44 if treated else 36), s.signal_id
    assert {s.variant for s in signals} == {CONTROL, TREATMENT}


def test_matching_the_stream_gives_trades_with_signal_variant_and_trade_id(
    stream: list[Event],
) -> None:
    book, trades = Book(), list[TradeClosed]()
    for e in of(stream, ExecutionReported):
        book, closed = apply(book, e, spec_for(e.instrument))
        trades += closed
    assert book.is_flat
    signals = {s.signal_id: s for s in of(stream, SignalEmitted)}
    assert {t.signal_id for t in trades} == set(signals)
    by_trade: dict[str | None, str | None] = {
        e.trade_id: e.signal_id for e in of(stream, ExecutionReported)
    }
    for t in trades:
        assert t.signal_id is not None
        assert t.variant == signals[t.signal_id].variant
        assert t.round_trip_id is not None and by_trade[t.round_trip_id] == t.signal_id
    treatment = [t for t in trades if t.variant == TREATMENT]
    assert treatment and all(t.net_pnl < 0 for t in treatment), "the treatment trade is a loss"
    assert any(t.net_pnl > 0 for t in trades) and any(t.net_pnl < 0 for t in trades)


def test_bars_cover_every_trade_and_none_is_sent_twice(stream: list[Event]) -> None:
    bars = of(stream, BarClosed)
    keys = [(b.instrument, b.period, b.envelope.ts_event) for b in bars]
    assert len(keys) == len(set(keys)), "a bar was sent twice"
    assert {b.period for b in bars} == {"1 Minute"}
    assert {b.instrument for b in bars} == {"NQ 12-26", "ES 12-26"}  # ES: bars_instruments=
    nq = sorted(b.envelope.ts_event for b in bars if b.instrument == "NQ 12-26")
    executions = of(stream, ExecutionReported)
    for e in executions:
        assert nq[0] < e.envelope.ts_event < nq[-1]
    for s in of(stream, SignalEmitted):
        close = [
            b
            for b in bars
            if b.instrument == "NQ 12-26" and b.envelope.ts_event <= s.envelope.ts_event
        ]
        assert close, f"no bar before {s.signal_id}"


def test_the_sample_experiment_file_is_the_one_the_golden_stream_assumes(
    stream: list[Event],
) -> None:
    config = tomllib.loads(
        (PROJECT_ROOT / "bridge" / "ninjatrader" / "samples" / "sample-wide-stop.toml").read_text()
    )
    spec = spec_from_config(config)
    assert (spec.experiment_id, spec.strategy) == (EXPERIMENT, STRATEGY)
    assert (spec.control_variant, spec.treatment_variant) == (CONTROL, TREATMENT)
    assert spec.ramp[0] == FIRST_STEP_PERCENT
    # its daily loss limit is breached by the treatment's losing trade of that morning
    book, losses = Book(), Decimal(0)
    for e in of(stream, ExecutionReported):
        book, closed = apply(book, e, spec_for(e.instrument))
        losses += sum((t.net_pnl for t in closed if t.variant == TREATMENT), Decimal(0))
    assert spec.daily_loss_limit is not None and -losses > spec.daily_loss_limit


@pytest.mark.parametrize("group", ["names", "links", "nonblocking", "registry", "bars", "bounds"])
def test_signals_harness_selfcheck(harness: Path, group: str) -> None:
    """names: entry names within NinjaTrader's 50 characters, the token always whole; links:
    partial fills, scale-ins (same or new signal), exits from the entry (FromEntrySignal), an
    execution without an order, ATM orders, manual orders and session-close fills (no link), a fill
    before the arm (control), and the AddOn posting the link; nonblocking: Signal returns before a
    slow bridge answers, a silent or failing bridge gives control, ArmNow, one signal per decision;
    registry: the links survive a restart through the file, bounded, a damaged file tolerated;
    bars: subscribe on an open position or a listed instrument, no bar twice after a reconnect or a
    new subscription or from a strategy, unsubscribe after the exit's bar; bounds: capped
    subscriptions, last-sent times and registry."""
    result = ninjascript.run_harness(harness, "selfcheck", group)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"{group} ok")
