"""A proposed entry against the rules, the sizing and the calibration: the gate's decision.

Every rule whose scope matches is evaluated, enforced or observed, and its verdict recorded with
the figure it measured and its limit. The entry is denied when a halt is in force for it, when an
enforced rule fails, or when sizing leaves no whole contract; otherwise it is allowed at the
sized quantity, capped by the rules (``max_position``'s room). An enforced rule with
``halt = true`` that fails starts a halt of its scope (the decision's account, narrowed to its
strategy and instrument when the rule's scope names them) until the session ends or a person
resumes it.

Figures count from the start of the trading day (the CME session, as the performance figures
do), or from the latest resume covering the rule's scope if that came later: a person who
resumes after a breach gives the rule a fresh allowance for the rest of the session.
``trailing_drawdown`` with ``from = "account"`` counts from the account's first trade (or the
latest resume). Money figures are realized: closed trades' net P&L, after costs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import overload

from domain.errors import UnknownInstrumentError
from domain.gate.calibration import Model
from domain.gate.rules import DrawdownFrom, Rule, RuleKind, Rules, Scope, SizingMethod
from domain.gate.sizing import Sized, TradeStats, size
from domain.gate.state import Closed, GateState, Run
from domain.performance.figures import session_bounds, trading_day
from schemas.events import (
    CalibrationFitted,
    Decision,
    Direction,
    Envelope,
    GateMode,
    RuleVerdict,
    SignalId,
    TradeDecided,
    Verdict,
)

_RATIO = Decimal("0.01")


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """A proposed entry, as ``POST /v1/decisions`` takes it."""

    signal_id: str
    account: str
    instrument: str
    strategy: str
    variant: str | None = None
    direction: Direction
    entry_price: Decimal
    intended_stop: Decimal | None = None
    intended_target: Decimal | None = None
    confidence: float | None = None
    quantity: int


def decide(
    proposal: Proposal,
    *,
    rules: Rules,
    state: GateState,
    envelope: Envelope,
    decision_id: str,
    as_of: Mapping[str, int],
) -> TradeDecided:
    """The decision on ``proposal`` at ``envelope.ts_event``."""
    proposal = _canonical(proposal)
    now = envelope.ts_event
    day = trading_day(now)
    regime = state.regime_at(proposal.instrument, now)
    model = state.model(proposal.strategy, regime)
    calibrated = None
    if proposal.confidence is not None and model is not None:
        calibrated = calibrate(model, proposal.confidence)
    context = _Context(
        proposal=proposal,
        state=state,
        now=now,
        session_start=session_bounds(day)[0],
        confidence=calibrated if calibrated is not None else proposal.confidence,
    )
    in_scope = rules.in_scope(
        proposal.account, proposal.strategy, proposal.instrument, proposal.variant
    )
    verdicts = [_verdict(rule, context) for rule in in_scope]
    sized, sizing_verdict = _sized(proposal, rules, state, regime, now)
    caps = [_room(rule, context) for rule in in_scope if rule.kind is RuleKind.MAX_POSITION
            and rule.mode is GateMode.ENFORCE]  # fmt: skip
    quantity = min([sized.quantity, *caps])
    arithmetic = sized.arithmetic
    if quantity < sized.quantity:
        arithmetic += f"; capped at {quantity} by max_position"
    if sizing_verdict is not None:
        verdicts.append(sizing_verdict)
    where = (proposal.account, proposal.strategy, proposal.instrument)
    halts = [h for h in state.halts(now, day) if h.scope.matches(*where)]
    failing = [v for v in verdicts if v.mode is GateMode.ENFORCE and v.verdict is Verdict.FAIL]
    allowed = not halts and not failing and quantity >= 1
    halt_id = halts[0].halt_id if halts else None
    halting = next((v for v in failing if v.halt), None)
    halt_rule = next((r for r in in_scope if halting is not None and r.name == halting.rule), None)
    started = halting is not None and not halts
    if started:
        halt_id = "halt-" + decision_id.removeprefix("dc-")
    return TradeDecided(
        envelope=envelope,
        decision_id=decision_id,
        signal_id=SignalId(proposal.signal_id),
        account=proposal.account,
        instrument=proposal.instrument,
        strategy=proposal.strategy,
        variant=proposal.variant,
        direction=proposal.direction,
        entry_price=proposal.entry_price,
        intended_stop=proposal.intended_stop,
        intended_target=proposal.intended_target,
        confidence=proposal.confidence,
        proposed_quantity=proposal.quantity,
        decision=Decision.ALLOW if allowed else Decision.DENY,
        quantity=quantity if allowed else 0,
        rules=tuple(verdicts),
        sizing_method=sized.method.value,
        sizing=arithmetic,
        calibrated_confidence=calibrated,
        calibration_version=model.model_id
        if model is not None and calibrated is not None
        else None,
        rules_version=rules.version,
        trading_day=day.isoformat(),
        halt_id=halt_id,
        halt_started=started,
        halt_strategy=proposal.strategy
        if started and halt_rule and halt_rule.scope.strategy
        else None,
        halt_instrument=proposal.instrument
        if started and halt_rule and halt_rule.scope.instrument
        else None,
        as_of=dict(as_of),
    )


def _canonical(proposal: Proposal) -> Proposal:
    """Prices without trailing zeros, so the reasons read the same whether the proposal came
    from JSON (``21000.25``) or back from Avro (``21000.2500000000``): a replay must match."""
    return replace(
        proposal,
        entry_price=_plain(proposal.entry_price),
        intended_stop=_plain(proposal.intended_stop),
        intended_target=_plain(proposal.intended_target),
    )


@overload
def _plain(value: Decimal) -> Decimal: ...
@overload
def _plain(value: None) -> None: ...
def _plain(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(format(value.normalize(), "f"))


def calibrate(model: CalibrationFitted, confidence: float) -> float:
    """``confidence`` through a published model (``domain.gate.calibration.Model.apply``)."""
    return _model(model).apply(confidence)


@lru_cache(maxsize=256)
def _model(fitted: CalibrationFitted) -> Model:
    return Model(
        method=fitted.method,
        thresholds_x=fitted.thresholds_x,
        thresholds_y=fitted.thresholds_y,
        platt_a=fitted.platt_a,
        platt_b=fitted.platt_b,
        fitted_at=fitted.fitted_at,
        trained_on=fitted.trained_on,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    proposal: Proposal
    state: GateState
    now: datetime
    session_start: datetime
    confidence: float | None

    def narrow(self, rule: Rule) -> Scope:
        """The figure's scope: the decision's account, and its strategy and instrument when
        the rule's scope names them."""
        p = self.proposal
        return Scope(
            account=p.account,
            strategy=p.strategy if rule.scope.strategy else None,
            instrument=p.instrument if rule.scope.instrument else None,
        )

    def since(self, rule: Rule) -> datetime:
        resumed = self.state.resumed(self.narrow(rule), self.now)
        return max(self.session_start, resumed) if resumed else self.session_start

    def run(self, rule: Rule, since: datetime | None) -> Run:
        return self.state.run(self.proposal.account, since=since, until=self.now,
                              scope=self.narrow(rule))  # fmt: skip

    def latest_first(self, rule: Rule, since: datetime | None) -> Iterator[Closed]:
        return self.state.latest_first(self.proposal.account, since=since, until=self.now,
                                       scope=self.narrow(rule))  # fmt: skip


def _verdict(rule: Rule, c: _Context) -> RuleVerdict:
    value, ok, reason = _CHECKS[rule.kind](rule, c)
    return RuleVerdict(
        rule=rule.name,
        kind=rule.kind.value,
        mode=rule.mode,
        verdict=Verdict.PASS if ok else Verdict.FAIL,
        value=value,
        limit=rule.limit,
        reason=reason,
        halt=rule.halt and rule.mode is GateMode.ENFORCE,
    )


_Check = tuple[Decimal | None, bool, str]


def _daily_loss(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    net = c.run(rule, c.since(rule)).net
    loss = -net if net < 0 else Decimal(0)
    ok = loss < rule.limit
    word = "below" if ok else "at or past"
    return (
        loss,
        ok,
        f"loss of the trading day {loss} ({c.narrow(rule)}) {word} the limit {rule.limit}",
    )


def _trailing_drawdown(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    if rule.drawdown_from is DrawdownFrom.DAY:
        start: datetime | None = c.since(rule)
    else:
        start = c.state.resumed(c.narrow(rule), c.now)
    run = c.run(rule, start)
    high = run.high
    drawdown = high - run.net
    ok = drawdown < rule.limit
    return drawdown, ok, (
        f"drawdown {drawdown} from the {rule.drawdown_from}'s high-water mark {high} "
        f"{'below' if ok else 'at or past'} the limit {rule.limit}")  # fmt: skip


def _max_position(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    p = c.proposal
    held = c.state.position(p.account, p.instrument, p.strategy if rule.scope.strategy else None)
    room = _room(rule, c)
    ok = room >= 1
    return Decimal(abs(held)), ok, (
        f"position {held:+d} in {p.instrument}: room for {max(room, 0)} {p.direction} of the "
        f"limit {rule.limit}")  # fmt: skip


def _room(rule: Rule, c: _Context) -> int:
    assert rule.limit is not None
    p = c.proposal
    held = c.state.position(p.account, p.instrument, p.strategy if rule.scope.strategy else None)
    sign = 1 if p.direction is Direction.LONG else -1
    return int(rule.limit) - held * sign


def _max_trades(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    count = c.state.entry_count(c.proposal.account, since=c.since(rule), scope=c.narrow(rule))
    ok = count < rule.limit
    return Decimal(count), ok, f"{count} entries allowed this trading day of at most {rule.limit}"


def _loss_cooldown(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    streak: list[Closed] = []
    for trade in c.latest_first(rule, c.since(rule)):
        if trade.net >= 0:
            break
        streak.append(trade)
    if len(streak) < rule.limit:
        return (
            Decimal(len(streak)),
            True,
            f"{len(streak)} consecutive losses, cooldown at {rule.limit}",
        )
    until = streak[0].exit_time + timedelta(minutes=rule.minutes)
    ok = c.now >= until
    state = "over" if ok else f"until {until.isoformat()}"
    return (
        Decimal(len(streak)),
        ok,
        (f"{len(streak)} consecutive losses: cooldown of {rule.minutes} min {state}"),
    )


def _session(rule: Rule, c: _Context) -> _Check:
    local = c.now.astimezone(rule.zone)
    ok = local.weekday() in rule.days and any(h.holds(local.time()) for h in rule.hours)
    hours = ", ".join(f"{h.start:%H:%M}-{h.end:%H:%M}" for h in rule.hours)
    return (
        None,
        ok,
        (
            f"{local:%a %H:%M} {rule.zone.key} is {'within' if ok else 'outside'} "
            f"the session {hours}"
        ),
    )


def _blackout(rule: Rule, c: _Context) -> _Check:
    before, after = (timedelta(minutes=m) for m in rule.padding_minutes)
    for window in rule.windows:
        if window.start - before <= c.now < window.end + after:
            return (
                None,
                False,
                (
                    f"blackout {window.label!r} {window.start.isoformat()} "
                    f"to {window.end.isoformat()}"
                ),
            )
    return None, True, "no blackout window now"


def _stale_data(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    last = c.state.last_bar(c.proposal.instrument, c.now)
    if last is None:
        return None, False, f"no bar of {c.proposal.instrument} in the last 3 days"
    age = Decimal(str(round((c.now - last).total_seconds(), 3)))
    ok = age <= rule.limit
    return age, ok, f"last bar closed {age} s ago, at most {rule.limit} s"


def _duplicate_signal(rule: Rule, c: _Context) -> _Check:
    assert rule.limit is not None
    p = c.proposal
    earlier = c.state.decided(p.signal_id)
    if earlier is not None:
        return (
            None,
            False,
            (f"signal {p.signal_id} was decided at {earlier.envelope.ts_event.isoformat()}"),
        )
    since = c.now - timedelta(seconds=float(rule.limit))
    for entry in reversed(c.state.entries(p.account, since=since, scope=Scope())):
        if (entry.strategy, entry.instrument, entry.direction) == (p.strategy, p.instrument,
                                                                   p.direction):  # fmt: skip
            age = Decimal(str(round((c.now - entry.envelope.ts_event).total_seconds(), 3)))
            return age, False, (
                f"{entry.signal_id} entered {p.direction} {p.instrument} {age} s ago, within "
                f"{rule.limit} s")  # fmt: skip
    return None, True, f"no like entry within {rule.limit} s"


def _min_reward_risk(rule: Rule, c: _Context) -> _Check:
    p = c.proposal
    if p.intended_stop is None or p.intended_target is None:
        return None, False, "needs intended_stop and intended_target"
    sign = 1 if p.direction is Direction.LONG else -1
    risk = (p.entry_price - p.intended_stop) * sign
    reward = (p.intended_target - p.entry_price) * sign
    if risk <= 0 or reward <= 0:
        return (
            None,
            False,
            f"stop {p.intended_stop} or target {p.intended_target} on the wrong side of the "
            f"entry {p.entry_price} for a {p.direction}",
        )
    ratio = (reward / risk).quantize(_RATIO)
    ok = ratio >= (rule.limit or 0)
    return ratio, ok, f"reward {reward} over risk {risk} = {ratio}, at least {rule.limit}"


def _min_confidence(rule: Rule, c: _Context) -> _Check:
    if c.confidence is None:
        return None, False, "no confidence given"
    value = Decimal(str(round(c.confidence, 4)))
    ok = value >= (rule.limit or 0)
    return value, ok, f"confidence {value} (calibrated when a model exists), at least {rule.limit}"


_CHECKS = {
    RuleKind.DAILY_LOSS: _daily_loss,
    RuleKind.TRAILING_DRAWDOWN: _trailing_drawdown,
    RuleKind.MAX_POSITION: _max_position,
    RuleKind.MAX_TRADES: _max_trades,
    RuleKind.LOSS_COOLDOWN: _loss_cooldown,
    RuleKind.SESSION: _session,
    RuleKind.BLACKOUT: _blackout,
    RuleKind.STALE_DATA: _stale_data,
    RuleKind.DUPLICATE_SIGNAL: _duplicate_signal,
    RuleKind.MIN_REWARD_RISK: _min_reward_risk,
    RuleKind.MIN_CONFIDENCE: _min_confidence,
}


def _sized(
    proposal: Proposal, rules: Rules, state: GateState, regime: str | None, now: datetime
) -> tuple[Sized, RuleVerdict | None]:
    sizing = rules.sizing_for(
        proposal.account, proposal.strategy, proposal.instrument, proposal.variant
    )
    try:
        point_value = state.contracts.spec_for(proposal.instrument).point_value
    except UnknownInstrumentError as e:
        return Sized(quantity=0, method=sizing.method, arithmetic=str(e)), RuleVerdict(
            rule="sizing", kind="sizing", mode=GateMode.ENFORCE, verdict=Verdict.FAIL,
            reason=f"cannot size: {e}")  # fmt: skip
    equity = None
    if sizing.equity is not None:
        equity = sizing.equity + state.realized(proposal.account)
    sized = size(
        sizing,
        proposed=proposal.quantity,
        entry=proposal.entry_price,
        stop=proposal.intended_stop,
        point_value=point_value,
        equity=equity,
        bars=state.bars(proposal.instrument, sizing.bar_period, now),
        stats=_stats(proposal.strategy, state, regime, sizing.min_trades)
        if sizing.method is SizingMethod.KELLY
        else None,
    )
    if sized.quantity >= 1:
        return sized, None
    return sized, RuleVerdict(
        rule="sizing", kind="sizing", mode=GateMode.ENFORCE, verdict=Verdict.FAIL,
        value=Decimal(sized.quantity), reason=f"no whole contract: {sized.arithmetic}")  # fmt: skip


def _stats(strategy: str, state: GateState, regime: str | None, minimum: int) -> TradeStats:
    """The strategy's live trades tallied for Kelly sizing, in ``regime`` when it has at least
    ``minimum`` there; remembered by the state until its trades or regime labels change."""
    return state.remembered(
        ("kelly", strategy, regime, minimum), lambda: _stats_now(strategy, state, regime, minimum)
    )


def _stats_now(strategy: str, state: GateState, regime: str | None, minimum: int) -> TradeStats:
    trades = list(state.strategy_trades(strategy))
    if regime is not None:
        there = [(a, t) for a, t in trades if state.regime_at(t.instrument, t.entry_time) == regime]
        if len(there) >= minimum:
            return _tally(there, regime)
    return _tally(trades, None)


def _tally(trades: list[tuple[str, Closed]], regime: str | None) -> TradeStats:
    wins = [t.net for _, t in trades if t.net > 0]
    losses = [-t.net for _, t in trades if t.net < 0]
    return TradeStats(
        trades=len(trades),
        wins=len(wins),
        average_win=sum(wins, Decimal(0)) / len(wins) if wins else Decimal(0),
        average_loss=sum(losses, Decimal(0)) / len(losses) if losses else Decimal(0),
        regime=regime,
    )
