"""Position reconciliation (``domain.reconciliation``) and its alert rule: a disagreement counts
once it has settled, each disagreement window publishes one drift and one resolution, and the
``position_drift`` rule raises exactly one alert for it."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.alerts.engine import AlertBook
from domain.alerts.rules import parse_rules
from domain.reconciliation import (
    Pair,
    derive,
    pair_from_json,
    pair_to_json,
    report,
    settle,
    settled,
    signed,
)
from schemas.events import (
    AlertChanged,
    AlertState,
    Envelope,
    EventId,
    ExecutionId,
    MarketPosition,
    PositionChanged,
    PositionDrift,
    PositionUpdated,
)

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
GRACE = timedelta(seconds=5)
_ids = itertools.count(1)


def _envelope(at: datetime) -> Envelope:
    return Envelope(
        event_id=EventId(f"evt-{next(_ids)}"), ts_event=at, ts_ingested=at, producer="tests"
    )


def reported(quantity: int, at: datetime, account: str = "Sim101") -> PositionUpdated:
    """NinjaTrader's report of a signed position."""
    side = (
        MarketPosition.LONG
        if quantity > 0
        else MarketPosition.SHORT
        if quantity < 0
        else MarketPosition.FLAT
    )
    return PositionUpdated(
        envelope=_envelope(at),
        account=account,
        instrument="NQ 12-26",
        market_position=side,
        quantity=abs(quantity),
        average_price=Decimal("21000") if quantity else Decimal(0),
    )


def changed(
    quantity: int, at: datetime, sequence: int, strategy: str | None = None
) -> PositionChanged:
    """Matching's position of one strategy's book."""
    return PositionChanged(
        envelope=_envelope(at),
        account="Sim101",
        instrument="NQ 12-26",
        strategy=strategy,
        sequence=sequence,
        execution_id=ExecutionId(f"x-{sequence}"),
        quantity=quantity,
        point_value=Decimal(20),
        currency="USD",
        open_costs=Decimal(0),
        realized_pnl=Decimal(0),
    )


@dataclass
class Run:
    """Feeds events in order as the stage does: after each, settles in event time (the
    earlier of both sides' latest times); ``live``, also on the clock before each (the stream
    was read to its end, waiting for it, until its ingestion time); at the end, on the clock
    long after."""

    pair: Pair
    drifts: list[PositionDrift]
    marks: dict[str, datetime]

    @classmethod
    def of(cls, events: Iterable[PositionUpdated | PositionChanged], live: bool = True) -> Run:
        run = cls(Pair("Sim101", "NQ 12-26"), [], {})
        for event in events:
            if live:
                run.step(clock=event.envelope.ts_ingested)
            run.feed(event)
        run.step(clock=max(run.marks.values(), default=T0) + timedelta(days=1))
        return run

    def feed(self, event: PositionUpdated | PositionChanged) -> None:
        if isinstance(event, PositionUpdated):
            side, self.pair = "reported", report(self.pair, event)
        else:
            side, self.pair = "derived", derive(self.pair, event)
        at = event.envelope.ts_event
        self.marks[side] = max(self.marks.get(side, at), at)
        self.step()

    def step(self, clock: datetime | None = None) -> None:
        now = min(self.marks.values()) if len(self.marks) == 2 else None
        self.pair, drift = settle(self.pair, GRACE, now, clock)
        if drift is not None:
            self.drifts.append(drift)


def test_a_reported_position_is_signed() -> None:
    assert [signed(reported(q, T0)) for q in (3, -2, 0)] == [3, -2, 0]


def test_a_disagreement_is_published_once_settled_and_resolved_once_they_agree() -> None:
    pair = report(Pair("Sim101", "NQ 12-26"), reported(2, T0))
    pair = derive(pair, changed(1, T0, 1))
    assert pair.since == T0 and pair.pending
    assert settle(pair, GRACE, T0 + GRACE - timedelta(microseconds=1)) == (pair, None)
    pair, drift = settle(pair, GRACE, T0 + GRACE)
    assert drift is not None
    assert (drift.reported, drift.derived, drift.since, drift.resolved) == (2, 1, T0, False)
    assert drift.envelope.ts_event == T0 + GRACE
    assert settle(pair, GRACE, T0 + GRACE * 10)[1] is None  # published once
    later = T0 + timedelta(minutes=1)
    pair = derive(pair, changed(2, later, 2))
    assert settle(pair, GRACE, later)[1] is None  # agreeing, not yet settled
    pair, resolved = settle(pair, GRACE, later + GRACE)
    assert resolved is not None
    assert (resolved.reported, resolved.derived, resolved.since, resolved.resolved) == (
        2,
        2,
        T0,
        True,
    )
    assert not pair.pending and pair.open is None


def test_the_clock_settles_a_stream_read_to_its_end() -> None:
    pair = report(Pair("Sim101", "NQ 12-26"), reported(1, T0))
    assert not settled(pair, GRACE, None, T0 + GRACE - timedelta(seconds=1))
    assert settled(pair, GRACE, None, T0 + GRACE)
    assert settle(pair, GRACE, None, T0 + GRACE)[1] is not None  # only NinjaTrader knows it


def test_changed_amounts_publish_again_with_the_same_since() -> None:
    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    # a side that repeats itself (no change) moves the stream's event time all the same
    run = Run.of(
        [
            reported(1, T0),
            changed(0, at(10), 1),
            reported(1, at(10)),
            reported(2, at(60)),
            changed(0, at(70), 2),
            reported(2, at(70)),
        ],
        live=False,
    )
    assert [d.envelope.ts_event for d in run.drifts] == [at(5), at(65)]
    assert [(d.reported, d.derived, d.since, d.resolved) for d in run.drifts] == [
        (1, 0, T0, False),
        (2, 0, T0, False),
    ]


def test_a_strategys_older_position_changes_nothing() -> None:
    pair = derive(Pair("Sim101", "NQ 12-26"), changed(2, T0, 5, "A"))
    assert derive(pair, changed(1, T0, 4, "A")) == pair
    assert derive(pair, changed(2, T0, 5, "A")) == pair
    both = derive(pair, changed(-1, T0, 1, "B"))
    assert both.derived_total == 1
    assert derive(both, changed(0, T0, 6, "A")).derived == {"B": (-1, 1)}


def test_the_state_survives_json() -> None:
    run = Run.of([reported(2, T0), changed(1, T0, 1)])
    assert run.pair.open is not None
    assert pair_from_json(pair_to_json(run.pair)) == run.pair
    assert pair_from_json(pair_to_json(Pair("a", "b"))) == Pair("a", "b")


# -- properties -------------------------------------------------------------------------------

_positions = st.lists(st.integers(-5, 5), min_size=1, max_size=8)
_lag = st.integers(0, int(GRACE.total_seconds() * 1000) - 1).map(
    lambda ms: timedelta(milliseconds=ms)
)


@st.composite
def agreeing(draw: st.DrawFn) -> list[PositionUpdated | PositionChanged]:
    """Both sides reach each target within the grace of each other (the derived one split over
    two strategies, each arriving on its own), the targets at least twice the grace apart."""
    events: list[PositionUpdated | PositionChanged] = []
    at = T0
    for sequence, target in enumerate(draw(_positions), 1):
        at += 2 * GRACE + timedelta(seconds=draw(st.integers(0, 600)))
        part = draw(st.integers(-5, 5))
        events.append(reported(target, at + draw(_lag)))
        for strategy, quantity in (("A", part), ("B", target - part)):
            events.append(changed(quantity, at + draw(_lag), sequence, strategy))
    order = sorted(range(len(events)), key=lambda n: (events[n].envelope.ts_event, n))
    return [events[n] for n in order]


@settings(max_examples=200, deadline=None)
@given(agreeing())
def test_no_drift_when_both_sides_agree_after_settling(
    events: Sequence[PositionUpdated | PositionChanged],
) -> None:
    for live in (True, False):
        run = Run.of(events, live)
        assert run.drifts == []
        assert _alerts(run.drifts) == []


@settings(max_examples=200, deadline=None)
@given(
    before=_positions,
    missed=st.integers(-5, 5).filter(bool),
    window=st.integers(1, 4),
    after=_positions,
)
def test_one_disagreement_window_publishes_one_drift_and_one_resolution(
    before: list[int], missed: int, window: int, after: list[int]
) -> None:
    """The sides agree through ``before``, then the derived side misses a fill of ``missed``
    contracts for ``window`` targets, then catches up (a correction) and agrees through
    ``after``."""
    events: list[PositionUpdated | PositionChanged] = []
    at = T0
    targets = [(q, 0) for q in before] + [(before[-1] + missed, missed)] * window
    targets += [(q, 0) for q in after]
    for sequence, (target, gap) in enumerate(targets, 1):
        at += 3 * GRACE
        events += [reported(target, at), changed(target - gap, at + GRACE / 2, sequence)]
    run = Run.of(events)
    opened = [d for d in run.drifts if not d.resolved]
    resolved = [d for d in run.drifts if d.resolved]
    assert len(opened) == 1 and len(resolved) == 1
    assert run.drifts[-1] is resolved[0]
    assert opened[0].since == resolved[0].since
    assert opened[0].reported - opened[0].derived == missed
    assert [a.state for a in _alerts(run.drifts)] == [AlertState.RAISED, AlertState.RESOLVED]


def test_alerts_follow_the_drifts_of_each_position_and_account_filter() -> None:
    run = Run.of(
        [
            reported(1, T0),
            reported(3, T0 + timedelta(minutes=1)),  # the amounts change: still one alert
            changed(3, T0 + timedelta(minutes=2), 1),
        ]
    )
    assert [d.resolved for d in run.drifts] == [False, False, True]
    alerts = _alerts(run.drifts)
    assert [a.state for a in alerts] == [AlertState.RAISED, AlertState.RESOLVED]
    assert alerts[0].key == "account=Sim101 instrument=NQ 12-26"
    assert alerts[0].raised_at == T0 + GRACE
    assert alerts[0].labels["reported"] == "1" and alerts[0].labels["derived"] == "0"
    assert "1 long" in alerts[0].summary and "flat" in alerts[0].summary
    assert _alerts(run.drifts, accounts=["Other"]) == []


def _alerts(
    drifts: Sequence[PositionDrift], accounts: list[str] | None = None
) -> list[AlertChanged]:
    rule: dict[str, object] = {"name": "drift", "type": "position_drift", "severity": "critical"}
    if accounts is not None:
        rule["accounts"] = accounts
    rules = parse_rules({"rules": [rule]})
    book = AlertBook()
    return [alert for drift in drifts for alert in book.apply(rules, drift)]
