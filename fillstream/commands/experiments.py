"""``fillstream experiments``: A/B experiments on the control topic (``control.experiments``):
create one from a file, list them, show one's arms and statistics, and change them by hand
(pause, resume, promote, roll back; the kill switch), each change an event with who and why."""

from __future__ import annotations

import argparse
import getpass
import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge.experiments import change, read_experiments
from control.guard import evaluate
from core.control_log import read_log
from core.database import connect
from core.errors import ConfigError
from core.settings import Settings
from core.text import text_table, when
from domain.experiments.guardrails import NextStep
from domain.experiments.model import KILL_SWITCH, Experiment, Experiments, spec_from_config
from domain.experiments.report import ArmTrade, Report, report
from domain.experiments.rollout import Rollout, RolloutTrade, rollout
from schemas.events import ExperimentAction, ExperimentArm

EXAMPLES = """examples:
  fillstream experiments create --config experiments/breakout-v2.toml
  fillstream experiments list
  fillstream experiments show breakout-v2            arms, effect with interval, p-values
  fillstream experiments promote breakout-v2 --reason "200 trades, guardrails held"
  fillstream experiments pause breakout-v2 --reason "FOMC today"
  fillstream experiments rollback breakout-v2 --reason "slippage"
  fillstream experiments kill --reason "broker outage"     every new signal runs control
  fillstream experiments revive

an experiment's file (TOML):
  id = "breakout-v2"
  strategy = "Breakout"
  control = "v1"
  treatment = "v2"
  ramp = [10, 25, 50, 100]          # the treatment's share at each step (default)
  min_trades_per_step = 30
  min_days_per_step = 5
  [guardrails]
  max_drawdown = 2000
  daily_loss_limit = 1000
"""

_CHANGES = {
    "pause": ExperimentAction.PAUSED,
    "resume": ExperimentAction.RESUMED,
    "promote": ExperimentAction.PROMOTED,
    "rollback": ExperimentAction.ROLLED_BACK,
}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream experiments",
        description="A/B experiments: a strategy's signals split between its current variant "
        "(control) and a new one (treatment) on a ramp of shares, each change an event.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="configure an experiment from a TOML file")
    create.add_argument("--config", type=Path, required=True, metavar="FILE")
    _who(create)
    listing = commands.add_parser("list", help="every experiment: status, step, share")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    show = commands.add_parser("show", help="one experiment: arms, effect, p-values, history")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON for machines")
    show.add_argument("--confidence", type=float, default=0.95, help="of the intervals (0.95)")
    show.add_argument(
        "--effect",
        type=Decimal,
        help="difference in net PnL per trade worth detecting, the sequential test's scale "
        "(default: the arms' pooled standard deviation after their first 10 trades each)",
    )
    for name, action in _CHANGES.items():
        sub = commands.add_parser(name, help=f"record that the experiment is {action.value}")
        sub.add_argument("id", metavar="ID")
        _who(sub)
    _who(commands.add_parser("kill", help="the kill switch: every new signal runs control"))
    _who(commands.add_parser("revive", help="lift the kill switch"))
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()

    if args.command == "list":
        experiments, _ = read_experiments(settings)
        if args.json:
            print(json.dumps(_list_json(experiments), indent=2))
        else:
            print(render_list(experiments))
        return 0
    if args.command == "show":
        experiments, events = read_experiments(settings)
        if args.effect is not None and not args.effect > 0:
            raise ConfigError("--effect", f"must be positive, was {args.effect}")
        shown = build_shown(settings, experiments.get(args.id), args.confidence, args.effect)
        made, rolled, decided = shown.report, shown.rollout, shown.next_step
        history = [e for e in events if e.experiment_id in (args.id, KILL_SWITCH)]
        if args.json:
            next_ = {"decision": decided.decision.value, "reason": decided.reason}
            print(json.dumps({**report_json(made), "next_step": next_,
                              "rollout": rollout_json(rolled)}, indent=2))  # fmt: skip
        else:
            print(render_report(made, experiments))
            print()
            print(render_rollout(rolled))
            print(f"next step: {decided.decision.value} ({decided.reason})")
            print("\nhistory:")
            for e in history:
                step = f" (step {e.step + 1})" if e.action is ExperimentAction.PROMOTED else ""
                why = f": {e.reason}" if e.reason else ""
                print(f"  {when(e.envelope.ts_event)}  {e.action.value}{step} by {e.actor}{why}")
        return 0
    if args.command == "create":
        try:
            config = tomllib.loads(args.config.read_text())
        except OSError as e:
            raise ConfigError("--config", f"cannot be read ({e.strerror}): {args.config}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError("--config", f"is not valid TOML ({e}): {args.config}") from e
        spec = spec_from_config(config)
        if spec.phase is not None and spec.phase not in {
            p.name for p in read_log(settings).active()
        }:
            raise ConfigError(
                "phase",
                f"{spec.phase!r} is not an active phase; start it first "
                f"(fillstream phase start {spec.phase} --config FILE) or leave phase out",
            )
        change(settings, spec.experiment_id, ExperimentAction.CONFIGURED, actor=args.by,
               reason=args.reason, spec=spec)  # fmt: skip
        print(
            f"experiment {spec.experiment_id}: {spec.strategy} split {spec.ramp[0]} % to "
            f"{spec.treatment_variant}, the rest to {spec.control_variant}"
        )
        return 0
    if args.command in ("kill", "revive"):
        action = ExperimentAction.KILLED if args.command == "kill" else ExperimentAction.REVIVED
        change(settings, KILL_SWITCH, action, actor=args.by, reason=args.reason)
        print(
            "kill switch on: every new signal runs control"
            if args.command == "kill"
            else "kill switch off: the experiments split signals again"
        )
        return 0
    event = change(settings, args.id, _CHANGES[args.command], actor=args.by, reason=args.reason)
    experiment = read_experiments(settings)[0].get(args.id)
    print(f"experiment {args.id}: {event.action.value}; {_state(experiment)}")
    return 0


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default=getpass.getuser(), help="who (default: you)")
    parser.add_argument("--reason", default="", help="why, recorded with the change")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shown:
    """What ``show`` prints of one experiment, from one read of its trades."""

    report: Report
    rollout: Rollout
    next_step: NextStep


def build_shown(
    settings: Settings, experiment: Experiment, confidence: float, effect: Decimal | None
) -> Shown:
    """The report, the rollout report and the next step (as the guard decides it), from the
    ``experiment_trades`` and ``assignments`` views."""
    experiment_id = experiment.spec.experiment_id
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT e.arm, e.exit_time, e.net_pnl, r.regime, e.trade_id, e.confidence"
            " FROM experiment_trades e LEFT JOIN trade_regimes r USING (trade_id)"
            " WHERE e.experiment_id = %s ORDER BY e.exit_time, e.trade_id",
            (experiment_id,),
        ).fetchall()
        counts = conn.execute(
            "SELECT treatment_percent, arm, count(*) FROM assignments WHERE experiment_id = %s"
            " GROUP BY treatment_percent, arm",
            (experiment_id,),
        ).fetchall()
        trades = [
            ArmTrade(arm=ExperimentArm(a), exit_time=t, net_pnl=n, regime=r, trade_id=i)
            for a, t, n, r, i, _ in rows
        ]
        made = report(
            experiment,
            trades,
            {(percent, ExperimentArm(arm)): n for percent, arm, n in counts},
            confidence=confidence,
            effect=effect,
        )
        step_trades = Counter(
            t.arm.value for t in trades if t.exit_time >= experiment.step_started_at
        )
        decided = evaluate(conn, experiment, datetime.now(UTC),
                           sequential=made.sequential, step_trades=step_trades)  # fmt: skip
    rolled = rollout(
        [RolloutTrade(arm=ExperimentArm(a), exit_time=t, net_pnl=n, confidence=c)
         for a, t, n, _, _, c in rows],
        confidence=confidence,
    )  # fmt: skip
    return Shown(report=made, rollout=rolled, next_step=decided)


def render_rollout(rolled: Rollout) -> str:
    def number(value: float | None, pct: bool = False) -> str:
        if value is None:
            return "-"
        return f"{value:+.1%}" if pct else f"{value:+.3f}"

    rows = []
    for m in rolled.metrics:
        pct = m.name == "win rate"
        interval = (
            f"[{number(m.ci_low, pct)}, {number(m.ci_high, pct)}]"
            if m.ci_low is not None
            else f"not yet ({m.note})"
        )
        rows.append([m.name, number(m.control, pct).lstrip("+"),
                     number(m.treatment, pct).lstrip("+"), number(m.difference, pct), interval,
                     f"{m.better} is better"])  # fmt: skip
    lines = [
        "rollout report (treatment − control):",
        text_table(["metric", "control", "treatment", "change", "interval", ""], rows),
    ]
    if rolled.calibration:
        lines += ["calibration (signal confidence against the share won):", text_table(
            ["arm", "confidence", "trades", "mean confidence", "won"],
            [[b.arm.value, f"{b.low:.1f}–{b.high:.1f}", str(b.trades),
              f"{b.mean_confidence:.2f}", f"{b.win_rate:.0%}"] for b in rolled.calibration],
        )]  # fmt: skip
    return "\n".join(lines)


def rollout_json(rolled: Rollout) -> dict[str, Any]:
    return {
        "metrics": [{name: getattr(m, name) for name in m.__dataclass_fields__}
                    for m in rolled.metrics],
        "calibration": [{"arm": b.arm.value, "low": b.low, "high": b.high, "trades": b.trades,
                         "mean_confidence": b.mean_confidence, "win_rate": b.win_rate}
                        for b in rolled.calibration],
    }  # fmt: skip


def _state(experiment: Experiment) -> str:
    spec = experiment.spec
    step = f"step {experiment.step + 1}/{len(spec.ramp)}"
    return f"{experiment.status.value}, {step}, treatment {experiment.treatment_percent} %"


def render_list(experiments: Experiments) -> str:
    if not experiments.by_id:
        return "no experiments (create one: fillstream experiments create --config FILE)"
    rows = [
        [e.spec.experiment_id, e.spec.strategy, f"{e.spec.control_variant} / "
         f"{e.spec.treatment_variant}", e.status.value, f"{e.step + 1}/{len(e.spec.ramp)}",
         f"{e.treatment_percent} %", when(e.step_started_at), e.changed_by]
        for e in experiments.by_id.values()
    ]  # fmt: skip
    table = text_table(
        ["id", "strategy", "control / treatment", "status", "step", "treatment", "since", "by"],
        rows,
    )
    if experiments.killed:
        table += f"\nkill switch ON ({experiments.killed_by}): every new signal runs control"
    return table


def render_report(made: Report, experiments: Experiments) -> str:
    e = made.experiment
    lines = [
        f"experiment {e.spec.experiment_id}: {e.spec.strategy}, {_state(e)}"
        + (f", with phase {e.spec.phase}" if e.spec.phase else "")
        + (" (kill switch ON: control only)" if experiments.killed else ""),
        "",
        text_table(
            [
                "arm",
                "variant",
                "assigned",
                "trades",
                "wins",
                "losses",
                "win rate",
                "net profit",
                "mean net/trade",
            ],
            [
                [
                    a.arm.value,
                    a.variant,
                    str(a.assigned),
                    str(a.trades),
                    str(a.wins),
                    str(a.losses),
                    _pct(a.win_rate),
                    _money(a.net_profit),
                    _money(a.mean_net_pnl),
                ]
                for a in (made.control, made.treatment)
            ],
        ),  # fmt: skip
        "",
        "treatment − control:",
    ]
    rows: list[list[str]] = []
    if made.welch is not None:
        w = made.welch
        rows.append(["mean net/trade (Welch)", f"{w.difference:+.2f}",
                     f"[{w.ci_low:+.2f}, {w.ci_high:+.2f}]", f"{w.p_value:.4f}"])  # fmt: skip
    if made.bootstrap is not None:
        b = made.bootstrap
        rows.append(["mean net/trade (bootstrap)", f"{b.difference:+.2f}",
                     f"[{b.ci_low:+.2f}, {b.ci_high:+.2f}]", "-"])  # fmt: skip
    if made.win_rate is not None:
        r = made.win_rate
        rows.append(["win rate (two proportions)", f"{r.difference:+.1%}",
                     f"[{r.ci_low:+.1%}, {r.ci_high:+.1%}]", f"{r.p_value:.4f}"])  # fmt: skip
    if made.mann_whitney is not None:
        m = made.mann_whitney
        rows.append(["P(treatment > control) (Mann-Whitney)",
                     f"{m.probability_superiority:.3f}", "-", f"{m.p_value:.4f}"])  # fmt: skip
    s = made.sequential
    rows.append(["always-valid (mSPRT)", f"{s.difference:+.2f}", "-", f"{s.p_value:.4f}"])
    if made.stratified is not None:
        k = made.stratified
        rows.append(["mean net/trade, regime-stratified", f"{k.difference:+.2f}",
                     f"[{k.ci_low:+.2f}, {k.ci_high:+.2f}]", f"{k.p_value:.4f}"])  # fmt: skip
    for regime in made.by_regime:
        half = 1.96 * regime.variance**0.5
        rows.append([f"  in {regime.regime} ({regime.n_control} / {regime.n_treatment} trades)",
                     f"{regime.difference:+.2f}", f"[{regime.difference - half:+.2f}, "
                     f"{regime.difference + half:+.2f}]", "-"])  # fmt: skip
    lines.append(text_table(["statistic", "effect", "interval", "p-value"], rows))
    for name, why in made.missing.items():
        lines.append(f"  {name}: not yet ({why})")
    ratio = made.sample_ratio
    if ratio is not None:
        verdict = "MISMATCH: check the routing" if ratio.mismatch else "ok"
        lines.append(
            f"sample ratio: chi-square {ratio.chi_square:.2f}, df {ratio.df}, "
            f"p {ratio.p_value:.4f}: {verdict}"
        )
    return "\n".join(lines)


def report_json(made: Report) -> dict[str, Any]:
    def arm(a: Any) -> dict[str, Any]:
        return {"arm": a.arm.value, "variant": a.variant, "assigned": a.assigned,
                "trades": a.trades, "wins": a.wins, "losses": a.losses,
                "win_rate": _str(a.win_rate), "net_profit": str(a.net_profit),
                "mean_net_pnl": _str(a.mean_net_pnl)}  # fmt: skip

    def fields(result: Any) -> dict[str, Any] | None:
        if result is None:
            return None
        return {name: getattr(result, name) for name in result.__dataclass_fields__}

    e = made.experiment
    ratio = made.sample_ratio
    return {
        "experiment": _experiment_json(e),
        "control": arm(made.control),
        "treatment": arm(made.treatment),
        "welch": fields(made.welch),
        "bootstrap": fields(made.bootstrap),
        "win_rate": fields(made.win_rate),
        "mann_whitney": fields(made.mann_whitney),
        "sequential": {
            "difference": made.sequential.difference,
            "p_value": made.sequential.p_value,
        },  # fmt: skip
        "sample_ratio": None
        if ratio is None
        else {
            "chi_square": ratio.chi_square,
            "df": ratio.df,
            "p_value": ratio.p_value,
            "mismatch": ratio.mismatch,
        },  # fmt: skip
        "by_regime": [fields(e) for e in made.by_regime],
        "stratified": fields(made.stratified),
        "missing": dict(made.missing),
    }


def _list_json(experiments: Experiments) -> dict[str, Any]:
    return {
        "kill_switch": experiments.killed,
        "experiments": [_experiment_json(e) for e in experiments.by_id.values()],
    }


def _experiment_json(e: Experiment) -> dict[str, Any]:
    spec = e.spec
    return {
        "id": spec.experiment_id, "strategy": spec.strategy,
        "control": spec.control_variant, "treatment": spec.treatment_variant,
        "ramp": list(spec.ramp), "status": e.status.value, "step": e.step,
        "treatment_percent": e.treatment_percent, "step_started_at": _iso(e.step_started_at),
        "min_trades_per_step": spec.min_trades_per_step,
        "min_days_per_step": spec.min_days_per_step,
        "max_drawdown": _str(spec.max_drawdown), "daily_loss_limit": _str(spec.daily_loss_limit),
        "auto_promote": spec.auto_promote, "phase": spec.phase,
        "changed_by": e.changed_by, "reason": e.reason,
    }  # fmt: skip


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(at: Any) -> str:
    return str(at.isoformat())


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"
