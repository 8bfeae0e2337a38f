"""``fillstream baseline``: freeze a period's figures under a name, list and show baselines.

  fillstream baseline freeze NAME --from D --to D [--scope SCOPE] [--note TEXT]
                                   the figures of the trades whose exit falls in those trading
                                   days (both included), per account, strategy and variant,
                                   published on control.baselines; a name is frozen once
  fillstream baseline list         every baseline: name, period, scope, trades, when and by whom
  fillstream baseline show NAME    a baseline's figures, scope by scope

A SCOPE is an account (``Sim101``) or ``account=Sim101[,strategy=ORB][,variant=v2]``. The
figures are those of the performance figures (``domain.performance.figures``) over the
``trades`` view, imported trades included, plus the Sharpe and Sortino ratios per trade and the
signals' prediction accuracy (``domain.baselines``). Each command takes --json for machines.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from alerts.report_data import baselines, period_trades
from core.control_log import publish_control
from core.errors import ConfigError
from core.settings import Settings
from core.text import text_table as table
from domain.baselines import Filter, PeriodError, freeze
from schemas.catalog import CONTROL_BASELINES
from schemas.events import BaselineFigures, BaselineFrozen, Envelope, EventId, Source

_SCOPE_KEYS = ("account", "strategy", "variant")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream baseline", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    frozen = commands.add_parser("freeze", help="freeze a period's figures under a name")
    frozen.add_argument("name", metavar="NAME")
    frozen.add_argument("--from", dest="start", required=True, type=day_argument, metavar="D",
                        help="first trading day (YYYY-MM-DD)")  # fmt: skip
    frozen.add_argument("--to", dest="end", required=True, type=day_argument, metavar="D",
                        help="last trading day, included (YYYY-MM-DD)")  # fmt: skip
    frozen.add_argument(
        "--scope", type=parse_scope, default=Filter(),
        help="Sim101, or account=…,strategy=…,variant=… (default: all)",
    )  # fmt: skip
    frozen.add_argument("--note", help="why this period, for whoever reads it later")
    frozen.add_argument("--by", help="who (default: the operating system user)")
    listed = commands.add_parser("list", help="every baseline")
    shown = commands.add_parser("show", help="a baseline's figures")
    shown.add_argument("name", metavar="NAME")
    for sub in (frozen, listed, shown):
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or Settings.from_env()
    match args.command:
        case "freeze":
            return _freeze(settings, args)
        case "list":
            return _list(settings, args.json)
        case _:
            return _show(settings, args.name, args.json)


def parse_scope(text: str) -> Filter:
    """``Sim101`` or ``account=Sim101,strategy=ORB,variant=v2``."""
    if "=" not in text:
        return Filter(account=text.strip() or None)
    given: dict[str, str] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key not in _SCOPE_KEYS or not value:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: a scope is {', '.join(k + '=…' for k in _SCOPE_KEYS)}"
            )
        given[key] = value
    return Filter(**given)


def day_argument(text: str) -> date:
    """A ``YYYY-MM-DD`` command-line date; argparse's one-line error otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _freeze(settings: Settings, args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise ConfigError("NAME", "a baseline needs a name")
    if args.start > args.end:
        raise ConfigError("--from", f"{args.start} is after --to {args.end}")
    known = baselines(settings)
    if name in known:
        print(f"fillstream baseline: {name!r} was frozen on "
              f"{known[name].envelope.ts_event:%Y-%m-%d %H:%M} UTC; a baseline is frozen once: "
              "choose another name", file=sys.stderr)  # fmt: skip
        return 1
    try:
        trades = period_trades(settings, args.start, args.end)
    except PeriodError as e:
        raise ConfigError("--from/--to", str(e)) from None
    now = datetime.now(UTC)
    baseline = freeze(
        name, args.start, args.end, trades, scope=args.scope,
        envelope=Envelope(event_id=EventId(f"baseline-{uuid.uuid4().hex}"), ts_event=now,
                          ts_ingested=now, source=Source.LIVE, producer="fillstream baseline"),
        actor=args.by or getpass.getuser(), note=args.note,
    )  # fmt: skip
    if not baseline.figures:
        print(f"fillstream baseline: no trade from {args.start} to {args.end}"
              f"{_scope_text(baseline)}: nothing frozen", file=sys.stderr)  # fmt: skip
        return 1
    publish_control(settings, CONTROL_BASELINES, name, baseline)
    if args.json:
        print(json.dumps(baseline_json(baseline), indent=2))
    else:
        accounts = [f for f in baseline.figures if f.scope.value == "account"]
        print(f"froze {name!r}: {sum(f.trades for f in accounts)} trades from {args.start} to "
              f"{args.end}{_scope_text(baseline)}, {len(baseline.figures)} scopes")  # fmt: skip
    return 0


def _list(settings: Settings, as_json: bool) -> int:
    known = baselines(settings)
    if as_json:
        print(json.dumps([_summary_json(b) for b in known.values()], indent=2))
        return 0
    if not known:
        print("no baseline yet: fillstream baseline freeze NAME --from D --to D")
        return 0
    print(table(
        ["name", "from", "to", "scope", "trades", "net", "frozen", "by"],
        [[b.name, b.from_day, b.to_day, _scope_text(b).strip(" ()") or "all", str(_trades(b)),
          _cents(_net(b)), f"{b.envelope.ts_event:%Y-%m-%d %H:%M}", b.actor]
         for b in known.values()],
    ))  # fmt: skip
    return 0


def _show(settings: Settings, name: str, as_json: bool) -> int:
    baseline = baselines(settings).get(name)
    if baseline is None:
        print(f"fillstream baseline: no baseline named {name!r} (fillstream baseline list)",
              file=sys.stderr)  # fmt: skip
        return 1
    if as_json:
        print(json.dumps(baseline_json(baseline), indent=2))
        return 0
    frozen = f"{baseline.envelope.ts_event:%Y-%m-%d %H:%M} UTC by {baseline.actor}"
    print(f"{baseline.name}: {baseline.from_day} to {baseline.to_day}{_scope_text(baseline)}, "
          f"frozen {frozen}")  # fmt: skip
    if baseline.note:
        print(f"note: {baseline.note}")
    print(table(
        ["scope", "key", "trades", "win rate", "net", "profit factor", "expectancy",
         "max drawdown", "sharpe/trade", "sortino/trade", "hit rate", "brier"],
        [[f.scope.value, f.scope_key, str(f.trades), _pct(f.win_rate), _cents(f.net_profit),
          _num(f.profit_factor), _cents(f.expectancy), _cents(f.max_drawdown),
          _num(f.sharpe_per_trade), _num(f.sortino_per_trade), _pct(f.hit_rate), _num(f.brier)]
         for f in baseline.figures],
    ))  # fmt: skip
    return 0


def baseline_json(baseline: BaselineFrozen) -> dict[str, Any]:
    return {**_summary_json(baseline), "figures": [_figures_json(f) for f in baseline.figures]}


def _summary_json(b: BaselineFrozen) -> dict[str, Any]:
    return {
        "name": b.name, "from": b.from_day, "to": b.to_day,
        "scope": {"account": b.account, "strategy": b.strategy, "variant": b.variant},
        "trades": _trades(b), "net_profit": str(_net(b)),
        "frozen_at": b.envelope.ts_event.isoformat(),
        "actor": b.actor, "note": b.note, "definitions_version": b.definitions_version,
        "trades_digest": b.trades_digest,
    }  # fmt: skip


def _figures_json(f: BaselineFigures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in f.__dataclass_fields__:
        value = getattr(f, name)
        if isinstance(value, Decimal):
            value = str(value.normalize()) if value != 0 else "0"
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        out[name] = value
    return out


def _trades(b: BaselineFrozen) -> int:
    return sum(f.trades for f in b.figures if f.scope.value == "account")


def _net(b: BaselineFrozen) -> Decimal:
    return sum((f.net_profit for f in b.figures if f.scope.value == "account"), Decimal(0))


def _scope_text(b: BaselineFrozen) -> str:
    parts = [f"{k}={v}" for k, v in (("account", b.account), ("strategy", b.strategy),
                                     ("variant", b.variant)) if v]  # fmt: skip
    return f" ({','.join(parts)})" if parts else ""


def _cents(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
