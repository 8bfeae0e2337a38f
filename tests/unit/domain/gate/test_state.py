"""The state's remembered figures (``GateState.run``, ``realized``, ``remembered``) equal the
same figures folded afresh, whatever trades arrive, are revised or voided between the asks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.gate import GateState
from domain.gate.rules import Scope
from schemas.events import TradeClosed
from tests.unit.domain.gate.gatekit import NOW, decided, proposal, rules, trade

SCOPES = (
    Scope(account="Sim101"),
    Scope(account="Sim101", strategy="ORB"),
    Scope(account="Sim101", instrument="ES 06-26"),
)
SINCE = (None, NOW - timedelta(minutes=90), NOW - timedelta(minutes=30))


@dataclass(frozen=True)
class _Trade:
    minute: int
    net: int
    strategy: str
    instrument: str


@dataclass(frozen=True)
class _Revise:
    which: int
    net: int
    voided: bool


@dataclass(frozen=True)
class _Ask:
    scope: int
    since: int
    minute: int


_steps = st.one_of(
    st.builds(
        _Trade,
        st.integers(0, 180),
        st.integers(-300, 300),
        st.sampled_from(["ORB", "MR"]),
        st.sampled_from(["NQ 06-26", "ES 06-26"]),
    ),  # fmt: skip
    st.builds(_Revise, st.integers(0, 40), st.integers(-300, 300), st.booleans()),
    st.builds(
        _Ask, st.integers(0, len(SCOPES) - 1), st.integers(0, len(SINCE) - 1), st.integers(0, 200)
    ),  # fmt: skip
)


def _naive(live: dict[str, TradeClosed], scope: Scope, since: datetime | None,
           until: datetime) -> tuple[Decimal, Decimal]:  # fmt: skip
    chosen = sorted(
        (t for t in live.values() if not t.voided and t.exit_time <= until
         and (since is None or t.exit_time >= since)
         and scope.strategy in (None, t.strategy) and scope.instrument in (None, t.instrument)),
        key=lambda t: (t.exit_time, t.trade_id),
    )  # fmt: skip
    net = high = Decimal(0)
    for t in chosen:
        net += t.net_pnl
        high = max(high, net)
    return net, high


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_steps, min_size=1, max_size=60))
def test_remembered_runs_equal_a_fresh_fold(steps: list[_Trade | _Revise | _Ask]) -> None:
    state = GateState()
    live: dict[str, TradeClosed] = {}
    start = NOW - timedelta(hours=3)
    for step in steps:
        match step:
            case _Trade():
                made = trade(str(step.net), at=start + timedelta(minutes=step.minute),
                             strategy=step.strategy, instrument=step.instrument)  # fmt: skip
                live[made.trade_id] = made
                state.apply(made)
            case _Revise() if live:
                known = list(live.values())[step.which % len(live)]
                revised = replace(known, net_pnl=Decimal(step.net), revision=known.revision + 1,
                                  voided=step.voided)  # fmt: skip
                live[known.trade_id] = revised
                state.apply(revised)
            case _Ask():
                scope, since = SCOPES[step.scope], SINCE[step.since]
                until = start + timedelta(minutes=step.minute)
                run = state.run("Sim101", since=since, until=until, scope=scope)
                assert (run.net, run.high) == _naive(live, scope, since, until)
        total = sum((t.net_pnl for t in live.values() if not t.voided), Decimal(0))
        assert state.realized("Sim101") == total


def test_kelly_statistics_are_told_again_once_a_trade_changes() -> None:
    text = """
[[sizing]]
method = "kelly"
equity = 100000
kelly_fraction = 0.5
max_fraction = 0.05
min_trades = 2
"""
    r = rules(text)
    early = [trade("400", trade_id="k-1"), trade("-100", trade_id="k-2"),
             trade("300", trade_id="k-3")]  # fmt: skip
    state = GateState()
    for t in early:
        state.apply(t)
    before = decided(proposal(), r, state)
    loss = replace(early[0], net_pnl=Decimal(-900), revision=1)
    state.apply(loss)
    after = decided(proposal(signal_id="sig-2"), r, state)
    fresh = GateState()
    for t in (loss, *early[1:]):
        fresh.apply(t)
    assert after.sizing == decided(proposal(signal_id="sig-2"), r, fresh).sizing
    assert after.sizing != before.sizing
