"""Each rule's verdict with its figure and limit, halts and resumes, observe mode, the caps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.gate import GateState, calibrate
from domain.gate.rules import Window
from schemas.events import (
    CalibrationFitted,
    CalibrationMethod,
    Decision,
    Direction,
    TradeClosed,
    Verdict,
)
from tests.unit.domain.gate.gatekit import (
    NOW,
    bar,
    decided,
    envelope,
    position,
    proposal,
    resume,
    rules,
    trade,
    verdict,
)

DAILY_LOSS = '[[rule]]\nkind = "daily_loss"\nscope = { account = "Sim101" }\nlimit = 500\n'


def state_of(*events: object) -> GateState:
    state = GateState()
    for event in events:
        state.apply(event)  # type: ignore[arg-type]
    return state


def test_no_rules_allow_at_the_strategys_quantity() -> None:
    decision = decided(proposal(quantity=3), rules(""), GateState())
    assert decision.decision is Decision.ALLOW and decision.quantity == 3
    assert decision.rules == () and decision.sizing == "fixed: the strategy's 3"
    assert decision.trading_day == "2026-03-10" and decision.rules_version.startswith("sha256:")


def test_daily_loss_counts_the_accounts_trading_day_after_costs() -> None:
    r = rules(DAILY_LOSS)
    yesterday = trade("-900", at=NOW - timedelta(days=1))  # another session: not counted
    other = trade("-900", account="Sim102")
    state = state_of(yesterday, other, trade("-300"), trade("100"))
    allowed = decided(proposal(), r, state)
    assert allowed.decision is Decision.ALLOW
    assert verdict(allowed, "daily_loss") == ("pass", Decimal(200), Decimal(500))
    state.apply(trade("-300", commission=Decimal("4.50")))
    denied = decided(proposal(), r, state)
    assert denied.decision is Decision.DENY and denied.quantity == 0
    assert verdict(denied, "daily_loss") == ("fail", Decimal(500), Decimal(500))
    assert "at or past the limit 500" in denied.rules[0].reason


def test_a_corrected_trade_counts_once_and_a_voided_one_not_at_all() -> None:
    first = trade("-400")
    state = state_of(first, replace(first, net_pnl=Decimal("-100"), revision=1))
    assert verdict(decided(proposal(), rules(DAILY_LOSS), state), "daily_loss")[1] == 100
    state.apply(replace(first, revision=2, voided=True))
    assert verdict(decided(proposal(), rules(DAILY_LOSS), state), "daily_loss")[1] == 0
    state.apply(first)  # an old revision arriving late changes nothing
    assert verdict(decided(proposal(), rules(DAILY_LOSS), state), "daily_loss")[1] == 0


def test_a_variant_scoped_rule_and_sizing_apply_to_that_variant_only() -> None:
    text = (
        '[[rule]]\nkind = "min_confidence"\nlimit = 0.7\nscope = { variant = "v2" }\n'
        '[[sizing]]\ncontracts = 1\nscope = { strategy = "ORB", variant = "v2" }\n'
    )
    r = rules(text)
    control = decided(proposal(variant="v1", confidence=0.6), r, GateState())
    assert control.decision is Decision.ALLOW and control.rules == () and control.quantity == 2
    treatment = decided(proposal(variant="v2", confidence=0.8), r, GateState())
    assert treatment.decision is Decision.ALLOW and treatment.quantity == 1
    assert treatment.rules[0].rule == "min_confidence"
    assert decided(proposal(variant="v2"), r, GateState()).decision is Decision.DENY


def test_observe_records_the_verdict_and_decides_nothing() -> None:
    r = rules(DAILY_LOSS + 'mode = "observe"\n')
    decision = decided(proposal(), r, state_of(trade("-800")))
    assert decision.decision is Decision.ALLOW
    assert decision.rules[0].verdict is Verdict.FAIL and decision.rules[0].mode.value == "observe"


def test_a_halting_breach_denies_the_scope_until_a_resume_gives_a_fresh_allowance() -> None:
    r = rules(DAILY_LOSS + "halt = true\n")
    state = state_of(trade("-600"))
    first = decided(proposal(signal_id="s1"), r, state, n=1)
    assert first.decision is Decision.DENY and first.halt_started
    assert first.halt_id == "halt-" + "1".rjust(32, "0")
    state.apply(first)
    # another strategy of the account: halted too (the rule's scope is the account)
    later = decided(proposal(signal_id="s2", strategy="Other"), r, state,
                    at=NOW + timedelta(minutes=1), n=2)  # fmt: skip
    assert later.decision is Decision.DENY and later.halt_id == first.halt_id
    assert not later.halt_started
    (halt,) = state.halts(NOW + timedelta(minutes=1), NOW.date())
    assert halt.rule == "daily_loss" and halt.scope.account == "Sim101"
    # the next session: the halt has ended, and the day's loss starts again
    tomorrow = decided(proposal(signal_id="s3"), r, state, at=NOW + timedelta(days=1), n=3)
    assert tomorrow.decision is Decision.ALLOW
    # a person resumes today: allowed again, the loss counting from the resume
    state.apply(resume(NOW + timedelta(minutes=2)))
    resumed = decided(proposal(signal_id="s4"), r, state, at=NOW + timedelta(minutes=3), n=4)
    assert resumed.decision is Decision.ALLOW and resumed.halt_id is None
    assert verdict(resumed, "daily_loss")[:2] == ("pass", Decimal(0))
    state.apply(trade("-500", at=NOW + timedelta(minutes=4)))
    again = decided(proposal(signal_id="s5"), r, state, at=NOW + timedelta(minutes=5), n=5)
    assert again.decision is Decision.DENY and again.halt_started


def test_a_resume_of_another_account_leaves_the_halt() -> None:
    r = rules(DAILY_LOSS + "halt = true\n")
    state = state_of(trade("-600"))
    state.apply(decided(proposal(), r, state))
    state.apply(resume(NOW + timedelta(minutes=1), account="Sim102"))
    assert decided(proposal(signal_id="s2"), r, state, at=NOW + timedelta(minutes=2),
                   n=2).decision is Decision.DENY  # fmt: skip


def test_trailing_drawdown_from_the_days_and_the_accounts_high_water_mark() -> None:
    day = rules('[[rule]]\nkind = "trailing_drawdown"\nlimit = 1000\n')
    account = rules('[[rule]]\nkind = "trailing_drawdown"\nlimit = 1000\nfrom = "account"\n')
    early = NOW - timedelta(days=2)
    state = state_of(
        trade("3000", at=early), trade("-900", at=early + timedelta(hours=1)),
        trade("500", at=NOW - timedelta(minutes=50)), trade("-400", at=NOW - timedelta(minutes=40)),
    )  # fmt: skip
    assert verdict(decided(proposal(), day, state), "trailing_drawdown")[:2] == (
        "pass",
        Decimal(400),
    )
    # the account's mark is 3000 (then 2100, 2600, 2200): 800 below it
    assert verdict(decided(proposal(), account, state), "trailing_drawdown")[:2] == (
        "pass",
        Decimal(800),
    )
    state.apply(trade("-200", at=NOW - timedelta(minutes=30)))
    assert verdict(decided(proposal(), account, state), "trailing_drawdown")[:2] == (
        "fail",
        Decimal(1000),
    )


def test_max_position_caps_the_quantity_and_denies_without_room() -> None:
    r = rules('[[rule]]\nkind = "max_position"\nlimit = 4\n')
    state = state_of(position(3), position(-1, strategy="Other", sequence=7))
    long = decided(proposal(quantity=3), r, state)  # net +2 of 4: room for 2 long
    assert long.decision is Decision.ALLOW and long.quantity == 2
    assert "capped at 2 by max_position" in long.sizing
    short = decided(proposal(direction=Direction.SHORT, entry_price=Decimal(21000),
                             intended_stop=Decimal(21010), quantity=5), r, state)  # fmt: skip
    assert short.quantity == 5  # short: room 4 + 2
    state.apply(position(5, sequence=2))
    full = decided(proposal(), r, state)
    assert full.decision is Decision.DENY
    assert verdict(full, "max_position") == ("fail", Decimal(4), Decimal(4))
    state.apply(position(1, sequence=1))  # an older position change: ignored
    assert decided(proposal(), r, state).decision is Decision.DENY


def test_max_trades_counts_the_entries_allowed_this_session() -> None:
    r = rules('[[rule]]\nkind = "max_trades"\nlimit = 2\n')
    state = GateState()
    for n in (1, 2):
        state.apply(decided(proposal(signal_id=f"s{n}"), r, state, n=n))
    third = decided(proposal(signal_id="s3"), r, state, n=3)
    assert verdict(third, "max_trades") == ("fail", Decimal(2), Decimal(2))


def test_cooldown_after_consecutive_losses() -> None:
    r = rules('[[rule]]\nkind = "loss_cooldown"\nlimit = 2\nminutes = 30\n')
    state = state_of(trade("-10", at=NOW - timedelta(minutes=20)),
                     trade("-10", at=NOW - timedelta(minutes=10)))  # fmt: skip
    cooling = decided(proposal(), r, state)
    assert verdict(cooling, "loss_cooldown")[:2] == ("fail", Decimal(2))
    assert "until 2026-03-10T15:20:00+00:00" in cooling.rules[0].reason
    assert decided(proposal(), r, state, at=NOW + timedelta(minutes=21)).decision is Decision.ALLOW
    state.apply(trade("5", at=NOW - timedelta(minutes=5)))  # a win ends the streak
    assert verdict(decided(proposal(), r, state), "loss_cooldown")[:2] == ("pass", Decimal(0))


def test_session_hours_in_the_exchanges_zone() -> None:
    r = rules('[[rule]]\nkind = "session"\nhours = ["08:30-15:00"]\n')
    assert decided(proposal(), r, GateState()).decision is Decision.ALLOW  # 10:00 CT
    evening = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)  # 16:00 CT
    denied = decided(proposal(), r, GateState(), at=evening)
    assert denied.decision is Decision.DENY and "Tue 16:00" in denied.rules[0].reason
    night = rules('[[rule]]\nkind = "session"\nhours = ["17:00-16:00"]\ndays = ["sun", "mon", '
                  '"tue", "wed", "thu"]\n')  # fmt: skip
    assert decided(proposal(), night, GateState(), at=evening).decision is Decision.DENY
    reopened = evening + timedelta(hours=1, minutes=1)
    assert decided(proposal(), night, GateState(), at=reopened).decision is Decision.ALLOW


def test_blackout_windows_with_padding() -> None:
    cpi = Window(start=NOW + timedelta(minutes=3), end=NOW + timedelta(minutes=4), label="CPI")
    text = '[[rule]]\nkind = "blackout"\nfile = "news.csv"\nbefore_minutes = 5\n'
    r = rules(text, {"news.csv": (cpi,)})
    denied = decided(proposal(), r, GateState())
    assert denied.decision is Decision.DENY and "'CPI'" in denied.rules[0].reason
    assert decided(proposal(), r, GateState(), at=NOW - timedelta(minutes=3)).decision is (
        Decision.ALLOW
    )
    assert decided(proposal(), r, GateState(), at=NOW + timedelta(minutes=4)).decision is (
        Decision.ALLOW
    )


def test_stale_market_data() -> None:
    r = rules('[[rule]]\nkind = "stale_data"\nlimit = 90\n')
    assert verdict(decided(proposal(), r, GateState()), "stale_data")[0] == "fail"
    state = state_of(bar(NOW - timedelta(seconds=120)), bar(NOW - timedelta(seconds=60)))
    assert verdict(decided(proposal(), r, state), "stale_data") == (
        "pass",
        Decimal(60),
        Decimal(90),
    )
    assert verdict(decided(proposal(), r, state, at=NOW + timedelta(seconds=31)),
                   "stale_data")[:2] == ("fail", Decimal("91"))  # fmt: skip


def test_duplicate_signal_by_id_and_by_a_like_entry_within_the_window() -> None:
    r = rules('[[rule]]\nkind = "duplicate_signal"\nlimit = 60\n')
    state = GateState()
    state.apply(decided(proposal(signal_id="s1"), r, state, n=1))
    assert verdict(decided(proposal(signal_id="s1"), r, state, n=2), "duplicate_signal")[0] == (
        "fail"
    )
    like = decided(proposal(signal_id="s2"), r, state, at=NOW + timedelta(seconds=30), n=3)
    assert verdict(like, "duplicate_signal") == ("fail", Decimal(30), Decimal(60))
    short = proposal(signal_id="s3", direction=Direction.SHORT, intended_stop=Decimal(21010),
                     intended_target=Decimal(20970))  # fmt: skip
    assert decided(short, r, state, n=4).decision is Decision.ALLOW
    assert decided(proposal(signal_id="s4"), r, state, at=NOW + timedelta(seconds=61),
                   n=5).decision is Decision.ALLOW  # fmt: skip


def test_reward_to_risk() -> None:
    r = rules('[[rule]]\nkind = "min_reward_risk"\nlimit = 2\n')
    assert verdict(decided(proposal(), r, GateState()), "min_reward_risk") == (
        "pass",
        Decimal("3.00"),
        Decimal(2),
    )
    thin = proposal(intended_target=Decimal(21015))
    assert verdict(decided(thin, r, GateState()), "min_reward_risk")[:2] == (
        "fail",
        Decimal("1.50"),
    )
    wrong = decided(proposal(intended_stop=Decimal(21010)), r, GateState())
    assert "wrong side" in wrong.rules[0].reason and wrong.decision is Decision.DENY
    bare = decided(proposal(intended_target=None), r, GateState())
    assert bare.rules[0].reason == "needs intended_stop and intended_target"


def model(method: CalibrationMethod, **fields: object) -> CalibrationFitted:
    return CalibrationFitted(envelope=envelope(NOW - timedelta(days=1)), model_id="cal-ORB-1",
                             strategy="ORB", version=1, method=method, fitted_at=NOW,
                             trained_on=100, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_min_confidence_uses_the_calibrated_confidence() -> None:
    r = rules('[[rule]]\nkind = "min_confidence"\nlimit = 0.55\n')
    assert decided(proposal(confidence=0.6), r, GateState()).decision is Decision.ALLOW
    assert decided(proposal(confidence=None), r, GateState()).rules[0].reason == (
        "no confidence given"
    )
    overconfident = model(CalibrationMethod.ISOTONIC, thresholds_x=(0.0, 1.0),
                          thresholds_y=(0.3, 0.7))  # fmt: skip
    decision = decided(proposal(confidence=0.6), r, state_of(overconfident))
    assert decision.calibrated_confidence is not None
    assert abs(decision.calibrated_confidence - 0.54) < 1e-9
    assert decision.calibration_version == "cal-ORB-1" and decision.decision is Decision.DENY


def test_calibrate_interpolates_isotonic_breakpoints_and_applies_platt() -> None:
    iso = model(CalibrationMethod.ISOTONIC, thresholds_x=(0.2, 0.5, 0.9),
                thresholds_y=(0.1, 0.4, 0.8))  # fmt: skip
    assert calibrate(iso, 0.1) == 0.1 and calibrate(iso, 0.95) == 0.8
    assert abs(calibrate(iso, 0.7) - 0.6) < 1e-12
    platt = model(CalibrationMethod.PLATT, platt_a=0.0, platt_b=0.0)
    assert calibrate(platt, 0.9) == 0.5


def test_sizing_that_leaves_no_contract_denies_naming_it() -> None:
    r = rules('[[sizing]]\nmethod = "fixed_fraction"\nequity = 10000\nrisk_fraction = 0.01\n')
    # one NQ contract risks 10 points x 20 = 200 > 100 at risk
    decision = decided(proposal(), r, GateState())
    assert decision.decision is Decision.DENY and decision.sizing_method == "fixed_fraction"
    assert verdict(decision, "sizing")[0] == "fail"
    zero = decided(proposal(intended_stop=Decimal(21000)), r, GateState())
    assert "no risk to size by" in zero.sizing and zero.quantity == 0
    unknown = decided(proposal(instrument="ZZ 06-26"), r, GateState())
    assert "fillstream instruments add ZZ" in unknown.rules[0].reason


# -- the same events in any order across topics: the same decisions -------------------------

EVENTS_TEXT = (
    DAILY_LOSS
    + """halt = true
[[rule]]
kind = "max_position"
limit = 3
[[rule]]
kind = "loss_cooldown"
limit = 2
minutes = 15
[[rule]]
kind = "trailing_drawdown"
limit = 700
from = "account"
"""
)


@settings(max_examples=60, deadline=None)
@given(
    nets=st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=12),
    positions=st.lists(st.integers(min_value=-4, max_value=4), max_size=5),
    seed=st.randoms(use_true_random=False),
)
def test_the_state_is_the_same_in_any_order_of_the_topics(
    nets: list[int], positions: list[int], seed: object
) -> None:
    trades: list[TradeClosed] = [
        trade(str(n), at=NOW - timedelta(minutes=60 - 4 * i), trade_id=f"o-{i}")
        for i, n in enumerate(nets)
    ]
    changes = [position(q, sequence=i + 1) for i, q in enumerate(positions)]
    corrected = [replace(trades[0], net_pnl=Decimal(-250), revision=1)]
    events: list[object] = [*trades, *changes, *corrected, bar(NOW - timedelta(seconds=5))]
    shuffled = list(events)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    r = rules(EVENTS_TEXT)
    one = decided(proposal(), r, state_of(*events))
    other = decided(proposal(), r, state_of(*shuffled))
    assert one == other


def test_a_halt_never_holds_before_it_was_made() -> None:
    r = rules(DAILY_LOSS + "halt = true\n")
    state = state_of(trade("-600"))
    state.apply(decided(proposal(), r, state, at=NOW))
    assert state.halts(NOW - timedelta(seconds=1), NOW.date()) == []
    assert datetime(2026, 3, 10, tzinfo=UTC).date() == NOW.date()
