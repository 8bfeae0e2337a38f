"""The NinjaTrader AddOn: it compiles against the NT8 API's shape, the JSON it posts is exactly
the golden files, and the golden files pass the bridge's validation; the strategy API's pre-trade
gate (Decide) and the AddOn's following of halts (flatten_on_halt)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.parsing import loads, parse_events, parse_proposal
from schemas.events import (
    BarClosed,
    BridgeHeartbeat,
    Event,
    ExecutionBusted,
    ExecutionCorrected,
    ExecutionReported,
    InstrumentDefined,
    OrderUpdated,
    PositionUpdated,
    SignalEmitted,
)
from tests.fixtures import ninjascript

NOW = datetime(2026, 9, 22, 22, 0, tzinfo=UTC)
SCENARIOS = {
    "atm_order",
    "bar",
    "execution_amended",
    "execution_removed",
    "executions_entry_exit_partial",
    "fee_by_reflection",
    "halt_flattened",
    "heartbeat",
    "instrument_defined",
    "order_lifecycle",
    "order_number",
    "position_removed",
    "position_update",
    "reversal",
    "signal_with_features",
    "sod_filtered",
}
# request bodies other than events (POST /v1/decisions), from the harness's "requests" mode
REQUESTS = ninjascript.GOLDEN.parent / "ninjatrader-requests"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ninjascript.build_harness(tmp_path_factory.mktemp("ninjascript"))


def golden(name: str) -> list[Event]:
    body = (ninjascript.GOLDEN / f"{name}.json").read_bytes()
    return parse_events(loads(body), ts_ingested=NOW, producer="tests")


def test_the_ninjascript_compiles_against_the_ninjatrader_api(tmp_path: Path) -> None:
    assert ninjascript.build_library(tmp_path).is_file()


def test_the_addon_posts_exactly_the_golden_files(harness: Path, tmp_path: Path) -> None:
    result = ninjascript.run_harness(harness, "golden", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr

    written = {path.name for path in tmp_path.glob("*.json")}
    assert written == {f"{name}.json" for name in SCENARIOS}
    assert {path.name for path in ninjascript.golden_files()} == written
    for path in ninjascript.golden_files():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} differs from what the AddOn sends; if the change is intended, "
            f"regenerate with: mono {harness} golden {ninjascript.GOLDEN}"
        )


def test_queue_retry_dedupe_and_subscriptions_behave(harness: Path) -> None:
    result = ninjascript.run_harness(harness, "selfcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("selfcheck ok")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_golden_file_passes_the_bridge_validation(name: str) -> None:
    events = golden(name)
    assert events
    assert {e.envelope.producer for e in events} == {"fillstream-nt8-addon/0.1.0"}
    assert {e.envelope.source for e in events} == {"live"}


def raw(name: str) -> list[dict[str, object]]:
    body: list[dict[str, object]] = loads((ninjascript.GOLDEN / f"{name}.json").read_bytes())
    return body


def test_partial_fills_are_separate_executions_and_a_refired_one_is_sent_once() -> None:
    executions = golden("executions_entry_exit_partial")
    assert all(isinstance(e, ExecutionReported) for e in executions)
    rows = [
        (e.execution_id[:4], e.side, e.quantity, e.price, e.commission, e.position_effect)
        for e in executions
        if isinstance(e, ExecutionReported)
    ]
    assert rows == [
        ("e2a9", "buy", 2, Decimal("21000.25"), Decimal("4.18"), "entry"),
        ("f7b3", "buy", 1, Decimal("21000.5"), Decimal("2.09"), "entry"),
        ("0a1b", "sell", 3, Decimal("21010.75"), Decimal("6.27"), "exit"),
    ]
    # platform time 08:35:00.1234567 at UTC-5; the 7th fractional digit is cut, not rounded
    assert executions[0].envelope.ts_event == datetime(2026, 9, 22, 13, 35, 0, 123456, tzinfo=UTC)
    assert {e.strategy for e in executions if isinstance(e, ExecutionReported)} == {"OpeningRange"}


def test_orders_carry_type_state_prices_and_the_rejection_reason() -> None:
    orders = [e for e in golden("order_lifecycle") if isinstance(e, OrderUpdated)]
    assert [(o.order_type, o.state) for o in orders] == [
        ("limit", "submitted"), ("limit", "accepted"), ("limit", "working"),
        ("limit", "part_filled"), ("limit", "filled"),
        ("stop_market", "accepted"), ("stop_market", "cancel_pending"),
        ("stop_market", "cancelled"), ("stop_limit", "trigger_pending"),
        ("market_if_touched", "working"), ("market", "rejected"),
    ]  # fmt: skip
    filled = orders[4]
    assert (filled.filled, filled.average_fill_price) == (3, Decimal("21000.3333333333"))
    assert orders[5].limit_price is None and orders[5].stop_price == Decimal("20990.25")
    assert orders[-1].side == "buy"  # BuyToCover
    assert orders[-1].error == (
        'OrderRejected: Order would exceed the account\'s "max position" of 1'
    )


def test_a_reversal_through_zero_leaves_the_position_effect_to_matching() -> None:
    events = golden("reversal")
    executions = [e for e in events if isinstance(e, ExecutionReported)]
    positions = [e for e in events if isinstance(e, PositionUpdated)]
    assert [(e.side, e.quantity, e.position_effect) for e in executions] == [
        ("buy", 1, "entry"),
        ("sell", 2, "unknown"),
        ("buy", 1, "exit"),
    ]
    assert executions[2].order_id is None  # exit on session close: NinjaTrader gives no Order
    assert [(p.market_position, p.quantity) for p in positions] == [
        ("long", 1),
        ("short", 1),
        ("flat", 0),
    ]


def test_signals_bars_and_heartbeats_keep_their_optional_fields_exact() -> None:
    full, minimal = golden("signal_with_features")
    assert isinstance(full, SignalEmitted) and isinstance(minimal, SignalEmitted)
    assert (full.strategy, full.variant, full.confidence) == (
        "Opening Range \u2013 v2",
        'breakout "B"',
        0.72,
    )
    assert full.features == {
        "atr_14": 12.5,
        "rsi_14": 61.25,
        "zscore_20": -1.375,
        "bars_since_open": 5,
    }
    assert (minimal.account, minimal.confidence, minimal.intended_stop, minimal.features) == (
        None,
        None,
        None,
        {},
    )
    bar, bare = golden("bar")
    assert isinstance(bar, BarClosed) and isinstance(bare, BarClosed)
    assert (bar.close, bar.bid, bar.ask, bare.bid, bare.ask) == (
        Decimal("21003"),
        Decimal("21002.75"),
        Decimal("21003.25"),
        None,
        None,
    )
    beats = [e for e in golden("heartbeat") if isinstance(e, BridgeHeartbeat)]
    assert [(b.connection, b.accounts, b.sequence, b.queue_depth) for b in beats] == [
        ("nt8-harness", ("Apex-12345", "Sim101"), 1, 0),
        ("nt8-harness", ("Apex-12345", "Sim101"), 2, 1),
    ]


def test_an_instrument_is_defined_once_per_root_before_its_first_event() -> None:
    events = golden("instrument_defined")
    assert [type(e).__name__ for e in events] == [
        "InstrumentDefined", "OrderUpdated", "OrderUpdated",
        "InstrumentDefined", "PositionUpdated",
        "InstrumentDefined", "ExecutionReported",
        "PositionUpdated",  # NQ 03-27: the root NQ is already defined
    ]  # fmt: skip
    nq, es, fdax = (e for e in events if isinstance(e, InstrumentDefined))
    assert (nq.root, nq.instrument, nq.name, nq.tick_size, nq.point_value, nq.currency) == (
        "NQ",
        "NQ 12-26",
        "Nasdaq-100",
        Decimal("0.25"),
        Decimal("20"),
        "USD",
    )
    assert (nq.exchange, nq.session_template, nq.instrument_type) == (
        "Globex",
        "CME US Index Futures ETH",
        "future",
    )
    assert (es.root, es.point_value) == ("ES", Decimal("50"))
    assert (fdax.root, fdax.currency, fdax.exchange, fdax.session_template) == (
        "FDAX",
        "EUR",
        "Eurex",
        None,
    )
    # no other scenario defines an instrument again: the AddOn keeps the roots for its session
    others = [raw(n) for n in SCENARIOS - {"instrument_defined"}]
    assert not [e for events in others for e in events if e["type"] == "instrument"]


def test_a_removed_position_is_flat_whatever_direction_it_names() -> None:
    positions = [e for e in golden("position_removed") if isinstance(e, PositionUpdated)]
    assert [(p.market_position, p.quantity, p.average_price) for p in positions] == [
        ("short", 2, Decimal("5752.25")),
        ("flat", 0, Decimal("0")),
    ]


def test_an_amended_execution_is_sent_as_a_correction_once() -> None:
    first, corrected, unseen, unseen_amended = golden("execution_amended")
    assert isinstance(first, ExecutionReported) and isinstance(corrected, ExecutionCorrected)
    # an update of an execution this session never sent: the execution (a repeat, if the log
    # has it) and the amendment (which changes nothing, if it did not)
    assert isinstance(unseen, ExecutionReported)
    assert isinstance(unseen_amended, ExecutionCorrected)
    assert unseen_amended.execution_id == unseen.execution_id
    assert (unseen_amended.price, unseen_amended.quantity) == (unseen.price, unseen.quantity)
    assert corrected.execution_id == first.execution_id
    assert (first.price, first.commission) == (Decimal("5755.25"), Decimal("2.58"))
    assert (corrected.price, corrected.commission, corrected.quantity) == (
        Decimal("5755.5"), Decimal("2.7"), 2
    )  # fmt: skip
    assert corrected.executed_at == first.envelope.ts_event
    assert corrected.envelope.ts_event == datetime(2026, 9, 22, 21, 45, tzinfo=UTC)
    assert corrected.order_number == first.order_number is not None


def test_a_removed_execution_is_busted() -> None:
    sent, busted = golden("execution_removed")
    assert isinstance(sent, ExecutionReported) and isinstance(busted, ExecutionBusted)
    assert (busted.execution_id, busted.account, busted.instrument) == (
        sent.execution_id, sent.account, sent.instrument
    )  # fmt: skip
    assert busted.envelope.event_id != sent.envelope.event_id


def test_start_of_day_statement_executions_are_not_sent() -> None:
    assert [e["execution_id"] for e in raw("sod_filtered")] == ["7301248888"]


def test_atm_orders_name_no_strategy() -> None:
    events = golden("atm_order")
    assert [type(e).__name__ for e in events] == ["OrderUpdated", "ExecutionReported"]
    assert all(
        e.strategy is None for e in events if isinstance(e, OrderUpdated | ExecutionReported)
    )
    assert all("strategy" not in e for e in raw("atm_order"))


def test_execution_fees_come_from_execution_fee() -> None:
    (execution,) = golden("fee_by_reflection")
    assert isinstance(execution, ExecutionReported)
    assert (execution.commission, execution.fees) == (Decimal("1.29"), Decimal("0.62"))
    others = [
        e for n in SCENARIOS - {"fee_by_reflection"} for e in raw(n) if e["type"] == "execution"
    ]
    assert {e["fees"] for e in others} == {"0"}


def test_the_order_number_stays_when_the_order_id_changes() -> None:
    accepted, working, fill = raw("order_number")
    assert (accepted["order_id"], working["order_id"], fill["order_id"]) == (
        "884422180", "884422181", "884422181"
    )  # fmt: skip
    assert accepted["order_number"] == working["order_number"] == fill["order_number"]
    numbers = {e["order_number"] for n in SCENARIOS for e in raw(n) if e["type"] == "order"}
    assert all(isinstance(n, str) and n.isdigit() for n in numbers)
    # an exit on session close has no order, hence no order number
    assert "order_number" not in raw("reversal")[4]


def test_decide_posts_exactly_the_golden_request(harness: Path, tmp_path: Path) -> None:
    result = ninjascript.run_harness(harness, "requests", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decide_request.json"]
    assert sorted(p.name for p in REQUESTS.glob("*.json")) == ["decide_request.json"]
    assert (tmp_path / "decide_request.json").read_bytes() == (
        REQUESTS / "decide_request.json"
    ).read_bytes(), (
        "decide_request.json differs from what Decide posts; if the change is intended, "
        f"regenerate with: mono {harness} requests {REQUESTS}"
    )


def test_the_decide_request_has_every_field_and_prices_as_exact_numbers() -> None:
    request = loads((REQUESTS / "decide_request.json").read_bytes())
    assert list(request) == [
        "signal_id", "account", "instrument", "strategy", "variant", "direction",
        "entry_price", "intended_stop", "intended_target", "confidence", "quantity",
    ]  # fmt: skip
    assert (request["entry_price"], request["intended_stop"], request["intended_target"]) == (
        Decimal("21000.25"),
        Decimal("20990.25"),
        Decimal("21025.5"),
    )
    assert (request["direction"], request["confidence"], request["quantity"]) == (
        "long",
        Decimal("0.72"),
        2,
    )
    assert request["strategy"] == "Opening Range \u2013 v2"
    # and the bridge takes it as it is: the contract between Decide and POST /v1/decisions
    proposal = parse_proposal(request)
    assert (proposal.signal_id, proposal.variant, proposal.quantity) == (
        "or-2026-09-22-0935", "wide-stop", 2)  # fmt: skip
    assert proposal.intended_target == Decimal("21025.5") and proposal.confidence == 0.72


def test_decide_answers_from_the_gate_or_from_the_failure_policy(harness: Path) -> None:
    """Allow, deny and the quantity from the gate's answer; fail-closed and fail-open on a
    timeout, a 503, a 4xx, a refused connection, a throwing transport and an unreadable answer."""
    result = ninjascript.run_harness(harness, "selfcheck", "decide")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("selfcheck ok")


def test_the_addon_flattens_a_new_halt_once_and_only_when_configured(harness: Path) -> None:
    result = ninjascript.run_harness(harness, "selfcheck", "halts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("selfcheck ok")


def test_a_halt_flattens_the_captured_accounts_it_names_and_reports_each_once() -> None:
    events = raw("halt_flattened")
    assert [
        (e["type"], e["account"], e["halt_id"], e["instruments"], e["reason"]) for e in events
    ] == [
        ("flattened", "Sim101", "h-2026-09-22-sim101-daily-loss",
         ["NQ 12-26", "ES 12-26"], "flattened 2 positions"),
        ("flattened", "Sim101", "h-2026-09-22-es-max-loss", ["ES 12-26"], "flattened 1 position"),
        ("flattened", "Apex-12345", "h-2026-09-22-es-max-loss", [], "no open position in ES 12-26"),
    ]  # fmt: skip
    assert {(e["source"], e["producer"]) for e in events} == {
        ("live", "fillstream-nt8-addon/0.1.0")
    }
    assert {e["ts_event"] for e in events} == {"2026-09-22T17:00:00.250000Z"}
