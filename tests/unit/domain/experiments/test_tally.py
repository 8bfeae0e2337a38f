"""The guard's tally: whatever chunks and order the trades are read in, with repeats, it holds
exactly the state of the sequential test over the same trades, and counts each arm's trades
since a moment as a plain filter does."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.experiments.report import ArmTrade, sequential_test
from domain.experiments.stats import Arm, apply, start_sequential
from domain.experiments.tally import Tally
from schemas.events import ExperimentArm

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def _trades(draw: st.DrawFn, count: int) -> list[ArmTrade]:
    return [
        ArmTrade(
            arm=draw(st.sampled_from(ExperimentArm)),
            # few distinct times: many trades close at the same moment
            exit_time=T0 + timedelta(minutes=draw(st.integers(0, 40))),
            net_pnl=Decimal(draw(st.integers(-50_000, 50_000))) / 100,
            trade_id=f"t{i:04d}",
        )
        for i in range(count)
    ]


@st.composite
def reads(draw: st.DrawFn) -> tuple[list[ArmTrade], list[list[ArmTrade]]]:
    """Trades, and the chunks a guard might read them in: any order, some read twice."""
    trades = _trades(draw, draw(st.integers(0, 700)))
    shuffled = draw(st.permutations(trades))
    repeats = draw(st.lists(st.sampled_from(trades), max_size=20)) if trades else []
    stream = list(shuffled) + repeats
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return trades, chunks


@settings(max_examples=60, deadline=None)
@given(reads())
def test_the_tally_equals_the_sequential_test_over_the_same_trades(
    read: tuple[list[ArmTrade], list[list[ArmTrade]]],
) -> None:
    trades, chunks = read
    tally = Tally()
    added = sum(tally.add(chunk) for chunk in chunks)
    known = [t for t in trades if t.arm is not ExperimentArm.UNKNOWN]
    assert added == len(known) == len(tally)
    assert tally.state == sequential_test(trades)
    for minutes in (0, 7, 20, 41):
        moment = T0 + timedelta(minutes=minutes)
        expected = {
            arm.value: sum(t.arm is arm and t.exit_time >= moment for t in trades)
            for arm in (ExperimentArm.CONTROL, ExperimentArm.TREATMENT)
        }
        assert dict(tally.since(moment)) == expected


def test_late_trades_and_repeats_leave_the_state_of_the_whole_fold() -> None:
    rng = random.Random(5)
    made = [
        ArmTrade(
            arm=rng.choice([ExperimentArm.CONTROL, ExperimentArm.TREATMENT]),
            exit_time=T0 + timedelta(seconds=i),
            net_pnl=Decimal(rng.randint(-300, 300)),
            trade_id=f"t{i:05d}",
        )
        for i in range(3_000)
    ]
    tally = Tally()
    for start in range(0, 2_900, 100):  # in order, in chunks
        tally.add(made[start : start + 100])
    late = made[2_900:]
    tally.add(late[50:])
    tally.add(late[:50])  # behind the latest: refolded
    tally.add([made[10]])  # a repeat: nothing changes
    assert len(tally) == 3_000
    assert tally.state == sequential_test(made)


def test_an_effect_given_fixes_the_mixing_variance() -> None:
    made = [
        ArmTrade(
            arm=arm, exit_time=T0 + timedelta(seconds=i), net_pnl=Decimal(i % 7), trade_id=str(i)
        )
        for i, arm in enumerate([ExperimentArm.CONTROL, ExperimentArm.TREATMENT] * 30)
    ]
    tally = Tally(mixing_variance=16.0)
    tally.add(made)
    assert tally.state == sequential_test(made, effect=Decimal(4))
    assert tally.state.mixing_variance == 16.0


def test_without_an_effect_the_mixing_variance_is_the_pooled_variance_when_both_arms_start() -> (
    None
):
    rng = random.Random(11)
    state = start_sequential(mixing_variance=None)
    control: list[float] = []
    treatment: list[float] = []
    while min(len(control), len(treatment)) < 10:
        arm = rng.choice(list(Arm))
        value = rng.gauss(0, 3)
        (control if arm is Arm.CONTROL else treatment).append(value)
        state = apply(state, arm, value)
        if min(len(control), len(treatment)) < 10:
            assert state.mixing_variance is None and state.p_value == 1.0

    def m2(xs: list[float]) -> float:
        mean = sum(xs) / len(xs)
        return sum((x - mean) ** 2 for x in xs)

    pooled = (m2(control) + m2(treatment)) / (len(control) + len(treatment) - 2)
    assert state.mixing_variance is not None
    assert math.isclose(state.mixing_variance, pooled, rel_tol=1e-9)
    frozen = state.mixing_variance
    for _ in range(50):
        state = apply(state, rng.choice(list(Arm)), rng.gauss(5, 9))
    assert state.mixing_variance == frozen
