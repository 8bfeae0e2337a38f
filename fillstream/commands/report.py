"""``fillstream report``: the daily summary, the weekly review, performance against a baseline.

  fillstream report daily [--date D] [--account A] [--baseline NAME] [--format F] [--out FILE]
        the trading day's report (default: today's): trades and their figures per account and
        strategy with plots, phases and experiment changes, alerts and how they ended, each
        service's availability, the figures against a baseline when named, what comes next
  fillstream report weekly [--week 2025-W20] [--account A] [--baseline NAME] [--format F] …
        the same over the five trading days of an ISO week (default: this one)
  fillstream report baseline NAME [--from D] [--to D] [--format F] [--out FILE]
        each scope of the baseline: its figures then (frozen) and now (the trades of --from to
        --to, by default from the day after the baseline's period to today), the difference with
        its bootstrap interval, and the roadmap's targets met or not: win rate +5 %,
        risk-adjusted returns (Sharpe per trade) +15 %, maximum drawdown −10 %, prediction
        accuracy (hit rate) +10 %

F is html (the default), pdf, markdown or json. A report is written under the state folder's
``reports/`` (or to --out) and its path printed; json prints it instead. Its figures are
``domain.reports`` and ``domain.baselines``'s over the views (``trades``, ``alert_history``,
``uptime_daily``) and the control topics; ``alerts.reports`` only renders them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.report_data import baselines, period_report, period_trades
from alerts.reports import LABELS, as_json, environment, pdf, plots
from alerts.reports import render as render_period
from core.settings import Settings
from domain.baselines import Comparison, Filter, PeriodError, Traded, compare, digest
from domain.performance.figures import trading_day
from domain.reports import (
    Period,
    day_period,
    week_period,
)
from fillstream.commands.baseline import day_argument
from schemas.events import BaselineFrozen, MetricScope

FORMATS = ("html", "pdf", "markdown", "json")
_SUFFIX = {"html": ".html", "pdf": ".pdf", "markdown": ".md", "json": ".json"}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream report", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    kinds = parser.add_subparsers(dest="kind", required=True)
    daily = kinds.add_parser("daily", help="a trading day's summary")
    daily.add_argument(
        "--date", type=day_argument, metavar="D", help="the trading day (default: today's)"
    )
    weekly = kinds.add_parser("weekly", help="an ISO week's review")
    weekly.add_argument("--week", type=_week, metavar="W",
                        help="an ISO week, YYYY-Www (default: this one)")  # fmt: skip
    for sub in (daily, weekly):
        sub.add_argument("--account", help="one account's trades only")
        sub.add_argument("--baseline", metavar="NAME", help="compare with this baseline")
        sub.add_argument("--format", choices=FORMATS, default="html")
        sub.add_argument("--out", type=Path, metavar="FILE", help="where to write the report")
    against = kinds.add_parser("baseline", help="performance now against a frozen baseline")
    against.add_argument("name", metavar="NAME")
    against.add_argument(
        "--from", dest="start", type=day_argument, metavar="D",
        help="first trading day of now (default: the day after the baseline's period)",
    )  # fmt: skip
    against.add_argument("--to", dest="end", type=day_argument, metavar="D",
                         help="last trading day of now (default: today's)")  # fmt: skip
    against.add_argument("--format", choices=FORMATS, default="html")
    against.add_argument("--out", type=Path, metavar="FILE", help="where to write the report")
    return parser


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or Settings.from_env()
    if args.kind in ("daily", "weekly"):
        return _period(settings, args)
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
        text = render(report, "html" if args.format == "pdf" else args.format)
    out = args.out or settings.home / "reports" / f"baseline-{baseline.name}-{start}-{end}" \
        f"{_SUFFIX[args.format]}"  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "pdf":
        out.write_bytes(pdf(text))
    else:
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
    """The baseline report as HTML or Markdown (``templates/``), from its figures."""
    template = environment().get_template(f"baseline.{'html' if kind == 'html' else 'md'}.j2")
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


def _period(settings: Settings, args: argparse.Namespace) -> int:
    today = trading_day(datetime.now(UTC))
    if args.kind == "daily":
        period = day_period(args.date or today)
    else:
        period = args.week or week_period(f"{today:%G-W%V}")
    baseline = None
    if args.baseline is not None:
        baseline = baselines(settings).get(args.baseline)
        if baseline is None:
            print(f"fillstream report: no baseline named {args.baseline!r} "
                  "(fillstream baseline list)", file=sys.stderr)  # fmt: skip
            return 1
    try:
        report = period_report(settings, period, account=args.account, baseline=baseline)
    except PeriodError as e:
        print(f"fillstream report: {e}", file=sys.stderr)
        return 1
    name = f"{period.kind}-{period.first}" + (f"-{args.account}" if args.account else "")
    out = args.out or settings.home / "reports" / f"{name}{_SUFFIX[args.format]}"
    if args.format == "json":
        text = json.dumps(as_json(report), indent=2)
        if args.out is None:
            print(text)
            return 0
        out.write_text(text)
        print(out)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "markdown":
        images = {}
        for plot, svg in plots(report).items():
            image = out.with_name(f"{out.stem}-{plot}.svg")
            image.write_text(svg)
            images[plot] = image.name
        out.write_text(render_period(report, "markdown", images))
    elif args.format == "pdf":
        out.write_bytes(pdf(render_period(report, "html")))
    else:
        out.write_text(render_period(report, "html"))
    print(out)
    return 0


def _week(text: str) -> Period:
    try:
        return week_period(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
