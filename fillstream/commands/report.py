"""``fillstream report``: performance against a frozen baseline.

  fillstream report baseline NAME [--from D] [--to D] [--format html|markdown|json] [--out FILE]
        each scope of the baseline: its figures then (frozen) and now (the trades of --from to
        --to, by default from the day after the baseline's period to today), the difference with
        its bootstrap interval, and the roadmap's targets met or not: win rate +5 %,
        risk-adjusted returns (Sharpe per trade) +15 %, maximum drawdown −10 %, prediction
        accuracy (hit rate) +10 %

The report is written under the state folder's ``reports/`` (or to --out) and its path printed;
``--format json`` prints it instead. The figures are ``domain.baselines``'s, over the ``trades``
view: the baseline period's trades are read again for the intervals, and a change since the
freeze (its trades' digest) is said.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from core.settings import Settings
from domain.baselines import Comparison, Filter, Traded, compare, digest
from domain.performance.figures import trading_day
from fillstream.commands.baseline import baselines, period_trades
from schemas.events import BaselineFrozen, MetricScope

FORMATS = ("html", "markdown", "json")
_SUFFIX = {"html": ".html", "markdown": ".md"}
LABELS = {
    "win_rate": "win rate",
    "sharpe_per_trade": "risk-adjusted returns (Sharpe per trade)",
    "max_drawdown": "maximum drawdown",
    "hit_rate": "prediction accuracy (hit rate)",
}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream report", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    kinds = parser.add_subparsers(dest="kind", required=True)
    against = kinds.add_parser("baseline", help="performance now against a frozen baseline")
    against.add_argument("name", metavar="NAME")
    against.add_argument(
        "--from", dest="start", type=_day, metavar="D",
        help="first trading day of now (default: the day after the baseline's period)",
    )  # fmt: skip
    against.add_argument("--to", dest="end", type=_day, metavar="D",
                         help="last trading day of now (default: today's)")  # fmt: skip
    against.add_argument("--format", choices=FORMATS, default="html")
    against.add_argument("--out", type=Path, metavar="FILE", help="where to write the report")
    return parser


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or Settings.from_env()
    baseline = baselines(settings).get(args.name)
    if baseline is None:
        print(f"fillstream report: no baseline named {args.name!r} (fillstream baseline list)",
              file=sys.stderr)  # fmt: skip
        return 1
    start = args.start or date.fromisoformat(baseline.to_day) + timedelta(days=1)
    end = args.end or trading_day(datetime.now(UTC))
    if start > end:
        print(f"fillstream report: --from {start} is after --to {end}", file=sys.stderr)
        return 1
    report = baseline_report(settings, baseline, start, end)
    if args.format == "json":
        text = json.dumps(report, indent=2)
        if args.out is None:
            print(text)
            return 0
    else:
        text = render(report, args.format)
    out = args.out or settings.home / "reports" / f"baseline-{baseline.name}-{start}-{end}" \
        f"{_SUFFIX.get(args.format, '.json')}"  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(out)
    return 0


def baseline_report(
    settings: Settings, baseline: BaselineFrozen, start: date, end: date
) -> dict[str, Any]:
    """The report's figures: per scope of the baseline, then, now and their comparison."""
    then = period_trades(settings, date.fromisoformat(baseline.from_day),
                         date.fromisoformat(baseline.to_day))  # fmt: skip
    now = period_trades(settings, start, end)
    then = [t for t in then if _in_baseline(baseline, t)]
    now = [t for t in now if _in_baseline(baseline, t)]
    scopes = []
    for figures in baseline.figures:
        before = [t for t in then if _in_scope(figures.scope, figures.scope_key, t)]
        after = [t for t in now if _in_scope(figures.scope, figures.scope_key, t)]
        scopes.append({
            "scope": figures.scope.value,
            "key": figures.scope_key,
            "frozen": {"trades": figures.trades, "net_profit": str(figures.net_profit.normalize()),
                       "win_rate": figures.win_rate,
                       "sharpe_per_trade": figures.sharpe_per_trade,
                       "max_drawdown": str(figures.max_drawdown.normalize()),
                       "hit_rate": figures.hit_rate},
            "comparisons": [_comparison_json(c) for c in compare(before, after)],
        })  # fmt: skip
    return {
        "baseline": baseline.name,
        "baseline_period": {"from": baseline.from_day, "to": baseline.to_day},
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "frozen_at": baseline.envelope.ts_event.isoformat(),
        "baseline_trades_changed": digest(then) != baseline.trades_digest,
        "scopes": scopes,
    }


def render(report: dict[str, Any], kind: str) -> str:
    """The report as HTML or Markdown (``templates/``), from its figures."""
    environment = Environment(
        loader=PackageLoader("fillstream", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = lambda v: "" if v is None else f"{v:+.1%}" if abs(v) < 10 else ""
    environment.filters["num"] = lambda v: "" if v is None else f"{v:.3f}"
    environment.filters["verdict"] = lambda v: "n/a" if v is None else "met" if v else "not met"
    template = environment.get_template(f"baseline.{'html' if kind == 'html' else 'md'}.j2")
    return template.render(report=report, labels=LABELS)


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return asdict(c)


def _in_baseline(b: BaselineFrozen, t: Traded) -> bool:
    return Filter(account=b.account, strategy=b.strategy, variant=b.variant).keeps(t)


def _in_scope(scope: MetricScope, key: str, t: Traded) -> bool:
    match scope:
        case MetricScope.ACCOUNT:
            return t.account == key
        case MetricScope.STRATEGY:
            return f"{t.account}|{t.strategy}" == key
        case _:
            return f"{t.account}|{t.strategy or ''}|{t.variant}" == key


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
