"""``fillstream gate``: check a rules file, halt or resume entries, show the halts in force.

  fillstream gate check [FILE]                       validate rules and sizing; show them
  fillstream gate halt Sim101 --reason "news"        deny every new entry of a scope until resumed
  fillstream gate resume Sim101 --reason "checked"   end the halts of a scope; its rules count
                                                     afresh from now until the session ends
  fillstream gate status                             the rules version and the halts in force
  fillstream gate replay                             decide every logged decision again from the
                                                     log; exit 1 if any comes out different
  fillstream gate report [--from D] [--to D] [--account A] [--strategy S]
                                                     per rule: what the signals it failed made
                                                     (paper, when denied) beside those it passed
  fillstream gate calibrate [--strategy S] [--dry-run]
                                                     fit confidence calibration walk-forward,
                                                     report it held out, publish the models

A SCOPE is an account (``Sim101``) or ``account=Sim101[,strategy=ORB][,instrument=NQ 06-26]``.
Halts and resumes are events on ``control.gate``; the bridge applies them within a second. Each
command takes --json for machines.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from api.handlers import gate_statements
from bridge.gate_config import load_rules
from bridge.publisher import route
from control.gate_replay import replay
from core.control_log import publish_control, read_events
from core.database import connect
from core.errors import ConfigError
from core.settings import Settings
from core.text import text_table as table
from core.text import when
from domain.gate import GateState, Scope
from domain.gate.report import Group, RuleValue, evaluate, outcomes, value_json
from domain.gate.rules import Rule, Sizing
from domain.performance.figures import trading_day
from fillstream.commands import gate_calibrate
from schemas.catalog import CONTROL_GATE, DERIVED_DECISIONS
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, GateAction, GateChanged, Source, TradeDecided


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream gate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a rules file; show its rules and sizing")
    check.add_argument("file", nargs="?", type=Path, help="default: FILLSTREAM_GATE_RULES")
    halt = commands.add_parser("halt", help="deny every new entry of a scope until resumed")
    resume = commands.add_parser("resume", help="end a scope's halts; its rules count afresh")
    for sub in (halt, resume):
        sub.add_argument("scope", metavar="SCOPE", help="Sim101, or account=…,strategy=…")
        sub.add_argument("--reason", default="", help="why, for whoever reads the log")
        sub.add_argument("--by", help="who (default: the operating system user)")
    status = commands.add_parser("status", help="the rules version logged and the halts in force")
    again = commands.add_parser("replay", help="decide the logged decisions again from the log")
    report = commands.add_parser("report", help="per rule: what failed and passed signals made")
    report.add_argument("--from", dest="start", type=date.fromisoformat, help="first trading day")
    report.add_argument("--to", dest="end", type=date.fromisoformat, help="last trading day")
    report.add_argument("--account", help="one account's decisions")
    report.add_argument("--strategy", help="one strategy's decisions")
    gate_calibrate.add_parser(commands)
    for sub in (check, halt, resume, status, again, report):
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    match args.command:
        case "check":
            return _check(settings, args.file, args.json)
        case "halt" | "resume":
            return _change(settings, args)
        case "replay":
            return _replay(settings, args.json)
        case "report":
            return _report(settings, args)
        case "calibrate":
            return gate_calibrate.run(settings, args)
        case _:
            return _status(settings, args.json)


def _check(settings: Settings, file: Path | None, as_json: bool) -> int:
    path = file or settings.gate_rules
    if path is None:
        raise ConfigError("FILLSTREAM_GATE_RULES", "is not set, and no FILE was given")
    rules = load_rules(path, "FILLSTREAM_GATE_RULES" if file is None else "FILE")
    if as_json:
        document = {
            "version": rules.version,
            "rules": [_rule_json(r) for r in rules.rules],
            "sizing": [_sizing_json(s) for s in rules.sizing],
        }
        print(json.dumps(document, indent=2))
        return 0
    print(f"{path}: {_count(len(rules.rules), 'rule')}, "
          f"{_count(len(rules.sizing), 'sizing table')}: valid ({rules.version})")  # fmt: skip
    if rules.rules:
        print(table(["rule", "kind", "scope", "limit", "mode", "halt"], [
            [r.name, r.kind.value, str(r.scope), _limit(r), r.mode.value, "yes" if r.halt else ""]
            for r in rules.rules
        ]))  # fmt: skip
    if rules.sizing:
        print(table(["sizing", "scope", "parameters"], [
            [s.method.value, str(s.scope), _parameters(s)] for s in rules.sizing
        ]))  # fmt: skip
    else:
        print("sizing: the strategy's own quantity")
    return 0


def _limit(rule: Rule) -> str:
    if rule.kind.value == "session":
        hours = ", ".join(f"{h.start:%H:%M}-{h.end:%H:%M}" for h in rule.hours)
        return f"{hours} {rule.zone.key}"
    if rule.kind.value == "blackout":
        return f"{_count(len(rule.windows), 'window')}"
    if rule.kind.value == "loss_cooldown":
        return f"{rule.limit} losses, {rule.minutes} min"
    return str(rule.limit)


def _parameters(sizing: Sizing) -> str:
    shown = {"fixed": ("contracts",), "fixed_fraction": ("equity", "risk_fraction"),
             "volatility": ("risk_budget", "atr_multiple", "atr_period", "bar_period"),
             "kelly": ("equity", "kelly_fraction", "max_fraction", "min_trades")}  # fmt: skip
    keys = (*shown[sizing.method.value], "max_contracts")
    return " ".join(f"{k}={getattr(sizing, k)}" for k in keys if getattr(sizing, k) is not None)


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "kind": rule.kind.value, "scope": str(rule.scope),
            "limit": None if rule.limit is None else str(rule.limit), "mode": rule.mode.value,
            "halt": rule.halt}  # fmt: skip


def _sizing_json(sizing: Sizing) -> dict[str, Any]:
    return {"method": sizing.method.value, "scope": str(sizing.scope),
            "parameters": _parameters(sizing)}  # fmt: skip


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def parse_scope(text: str) -> Scope:
    """``Sim101`` or ``account=Sim101,strategy=ORB,instrument=NQ 06-26``."""
    if "=" not in text:
        if not text.strip():
            raise ConfigError("SCOPE", "must name an account, or account=…,strategy=…")
        return Scope(account=text.strip())
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key not in ("account", "strategy", "instrument") or not value:
            raise ConfigError("SCOPE", f"{part!r} is not account=…, strategy=… or instrument=…")
        fields[key] = value
    if "account" not in fields:
        raise ConfigError("SCOPE", "must name the account (account=Sim101,…)")
    return Scope(**fields)


def gate_change(
    action: GateAction, scope: Scope, *, actor: str, reason: str, at: datetime | None = None
) -> GateChanged:
    """A halt or resume by a person; a halt holds until a person resumes it."""
    now = at or datetime.now(UTC)
    return GateChanged(
        envelope=Envelope(event_id=EventId(f"gate-{uuid.uuid4().hex}"), ts_event=now,
                          ts_ingested=now, source=Source.LIVE, producer="fillstream gate"),
        action=action,
        halt_id=f"halt-{uuid.uuid4().hex}" if action is GateAction.HALTED else None,
        account=scope.account,
        strategy=scope.strategy,
        instrument=scope.instrument,
        actor=actor,
        reason=reason,
    )  # fmt: skip


def _change(settings: Settings, args: argparse.Namespace) -> int:
    scope = parse_scope(args.scope)
    action = GateAction.HALTED if args.command == "halt" else GateAction.RESUMED
    now = datetime.now(UTC)
    if action is GateAction.RESUMED:
        held = [h for h in _state(settings).halts(now, trading_day(now)) if scope.covers(h.scope)]
        if not held:
            print(f"fillstream gate: nothing is halted within {scope}", file=sys.stderr)
            return 1
    change = gate_change(action, scope, actor=args.by or getpass.getuser(), reason=args.reason,
                         at=now)  # fmt: skip
    publish_control(settings, CONTROL_GATE, route(change)[1], change)
    if args.json:
        print(json.dumps({"action": action.value, "scope": str(scope), "halt_id": change.halt_id,
                          "at": now.isoformat()}))  # fmt: skip
    elif action is GateAction.HALTED:
        print(f"halted {scope} ({change.halt_id}): every new entry is denied until resumed")
    else:
        print(f"resumed {scope}: {_count(len(held), 'halt')} ended; its rules count from now")
    return 0


def _state(settings: Settings) -> GateState:
    state = GateState()
    for change in read_events(settings, CONTROL_GATE, GateChanged):
        state.apply(change)
    for decision in read_events(settings, DERIVED_DECISIONS, TradeDecided):
        if decision.halt_started:
            state.apply(decision)
    return state


def _status(settings: Settings, as_json: bool) -> int:
    state = _state(settings)
    now = datetime.now(UTC)
    halts = state.halts(now, trading_day(now))
    if as_json:
        print(json.dumps({"rules_version": state.logged_version, "halts": [
            {"halt_id": h.halt_id, "scope": str(h.scope), "rule": h.rule, "reason": h.reason,
             "since": h.since.isoformat(), "actor": h.actor,
             "until": h.trading_day.isoformat() if h.trading_day else None}
            for h in halts]}, indent=2))  # fmt: skip
        return 0
    print(f"rules: {state.logged_version or 'none logged yet (the bridge logs them at start)'}")
    if not halts:
        print("no halts in force")
        return 0
    print(table(["halt", "scope", "since", "until", "by", "why"], [
        [h.halt_id, str(h.scope), when(h.since),
         f"end of {h.trading_day}" if h.trading_day else "resumed", h.actor,
         f"{h.rule}: {h.reason}" if h.rule else h.reason]
        for h in halts
    ]))  # fmt: skip
    return 0


def _replay(settings: Settings, as_json: bool) -> int:
    report = replay(settings, default_codec(), progress=None if as_json else _progress)
    if as_json:
        print(json.dumps({
            "decisions": report.decisions, "same": report.same, "skipped": report.skipped,
            "different": [{"decision_id": m.decision_id, "signal_id": m.signal_id,
                           "difference": m.reason} for m in report.mismatches],
        }, indent=2))  # fmt: skip
    else:
        different, skipped = len(report.mismatches), sum(report.skipped.values())
        print(f"{_count(report.decisions, 'decision')} replayed: {report.same} the same, "
              f"{different} different, {skipped} skipped")  # fmt: skip
        for reason, count in report.skipped.items():
            print(f"  skipped {count}: {reason}")
        for m in report.mismatches:
            print(f"  {m.decision_id} ({m.signal_id}): {m.reason}")
    return 1 if report.mismatches else 0


def _progress(done: int, total: int) -> None:
    if done == total or done % 1000 == 0:
        print(f"\r  {done} of {total} decided again", end="\n" if done == total else "",
              file=sys.stderr, flush=True)  # fmt: skip


def _report(settings: Settings, args: argparse.Namespace) -> int:
    given = {"account": args.account, "strategy": args.strategy, "from": args.start,
             "to": args.end}  # fmt: skip
    chosen = {name: value for name, value in given.items() if value is not None}
    decided_sql, verdicts_sql = gate_statements(chosen)
    with connect(settings) as conn:
        decided = conn.execute(decided_sql, chosen).fetchall()
        verdicts = conn.execute(verdicts_sql, chosen).fetchall()
    values = evaluate(outcomes(decided, verdicts))
    if args.json:
        print(json.dumps([value_json(v) for v in values], indent=2))
        return 0
    if not values:
        print("no decisions")
        return 0
    print(table(
        ["rule", "mode", "failed: signals", "outcomes", "mean", "95% interval", "won",
         "passed: signals", "outcomes", "mean", "95% interval", "won", "failed − passed",
         "95% interval"],
        [[v.rule, v.mode, *_group_cells(v.failed), *_group_cells(v.passed),
          *_difference_cells(v)] for v in values],
    ))  # fmt: skip
    print("outcomes: live trades of allowed signals, paper trades of denied ones; a rule helps "
          "where failed − passed is below 0 with its interval")  # fmt: skip
    return 0


def _group_cells(group: Group) -> list[str]:
    if group.mean is None:
        return [str(group.signals), "0", "", "", ""]
    interval = "" if group.ci_low is None else f"{group.ci_low:.2f} to {group.ci_high:.2f}"
    return [str(group.signals), str(group.with_outcome), f"{group.mean:.2f}", interval,
            f"{group.win_rate:.0%}"]  # fmt: skip


def _difference_cells(value: RuleValue) -> list[str]:
    d = value.difference
    if d is None:
        return ["", ""]
    return [f"{d.difference:.2f}", f"{d.ci_low:.2f} to {d.ci_high:.2f}"]
