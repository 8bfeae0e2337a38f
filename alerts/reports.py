"""Rendering a report (``domain.reports.Report``): HTML and Markdown from Jinja2 templates
(``alerts/templates/``), plots drawn by matplotlib as SVG, the PDF by WeasyPrint from the HTML.
Every number shown comes from the report's figures; nothing here computes one. It is here, with
the channels, because the notifier is what sends scheduled reports; ``fillstream report`` uses
it too."""

from __future__ import annotations

import io
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from domain.reports import Report

LABELS = {
    "win_rate": "win rate",
    "sharpe_per_trade": "risk-adjusted returns (Sharpe per trade)",
    "sortino_per_trade": "Sortino ratio per trade",
    "max_drawdown": "maximum drawdown",
    "hit_rate": "prediction accuracy (hit rate)",
    "brier": "Brier score of the signals' confidence (lower is better)",
}


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "" if v is None else f"{v:+.1%}"
    env.filters["share"] = lambda v: "" if v is None else f"{v:.1%}"
    env.filters["share4"] = lambda v: "" if v is None else f"{v:.2%}"
    env.filters["num"] = lambda v: "" if v is None else f"{v:.3f}"
    env.filters["cents"] = lambda v: "" if v is None else f"{Decimal(v):,.2f}"
    env.filters["verdict"] = lambda v: "n/a" if v is None else "met" if v else "not met"
    env.filters["when"] = lambda v: "" if v is None else f"{v:%Y-%m-%d %H:%M}"
    env.filters["seconds"] = lambda v: "" if v is None else f"{v:.2f} s"
    env.filters["duration"] = _duration
    return env


def plots(report: Report) -> dict[str, str]:
    """SVG of each plot the report's data allows: equity and drawdown, daily P&L, P&L by
    strategy, the calibration of the signals' confidence."""
    return {name: svg.decode() for name, svg in _drawn(report, "svg").items()}


def png_plots(report: Report) -> dict[str, bytes]:
    """The same plots as PNG (e-mail readers that show no SVG show these)."""
    return _drawn(report, "png")


def _drawn(report: Report, form: str) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    def _out(figure: Any) -> bytes:
        return _saved(figure, plt, form)

    drawn: dict[str, bytes] = {}
    s = report.series
    if s.equity:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True,
                                             height_ratios=(2, 1))  # fmt: skip
        times = [t for t, _ in s.equity]
        top.plot(times, [float(v) for _, v in s.equity], color="#0969da")
        top.set_ylabel("net P&L")
        top.set_title("Equity")
        bottom.fill_between(times, [-float(v) for _, v in s.drawdown], color="#cf222e", step="post")
        bottom.set_ylabel("drawdown")
        figure.autofmt_xdate()
        drawn["equity"] = _out(figure)
    if len(s.daily) > 1:
        figure, axes = plt.subplots(figsize=(8, 2.8))
        values = [float(v) for _, v in s.daily]
        axes.bar([d.isoformat() for d, _ in s.daily], values,
                 color=["#1a7f37" if v >= 0 else "#cf222e" for v in values])  # fmt: skip
        axes.set_title("Net P&L by trading day")
        axes.tick_params(axis="x", labelrotation=45)
        drawn["daily"] = _out(figure)
    if s.by_strategy:
        figure, axes = plt.subplots(figsize=(8, 0.6 + 0.4 * len(s.by_strategy)))
        values = [float(v) for _, v in s.by_strategy]
        axes.barh([name for name, _ in s.by_strategy], values,
                  color=["#1a7f37" if v >= 0 else "#cf222e" for v in values])  # fmt: skip
        axes.set_title("Net P&L by strategy")
        drawn["by_strategy"] = _out(figure)
    if s.calibration:
        figure, axes = plt.subplots(figsize=(4.5, 4.2))
        axes.plot([0, 1], [0, 1], linestyle="--", color="#8c959f", label="calibrated")
        axes.plot([c for c, _, _ in s.calibration], [w for _, w, _ in s.calibration],
                  marker="o", color="#0969da", label="signals")  # fmt: skip
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("confidence")
        axes.set_ylabel("share won")
        axes.set_title("Calibration of the signals' confidence")
        axes.legend(loc="upper left")
        drawn["calibration"] = _out(figure)
    return drawn


def render(
    report: Report,
    kind: str,
    images: dict[str, str] | None = None,
    *,
    note: str | None = None,
    link: str | None = None,
    pdf_link: str | None = None,
    note_slot: str | None = None,
) -> str:
    """``html`` (the plots inline as SVG, or as ``images``: name → address) or ``markdown``
    (the plots as ``images``: name → file). ``note`` is shown first (a report sent late says
    so); ``link`` and ``pdf_link`` lead to the report in the browser; ``note_slot`` is written
    as is where a note goes, for a note filled in later."""
    template = environment().get_template(f"period.{'html' if kind == 'html' else 'md'}.j2")
    inline = plots(report) if kind == "html" and images is None else {}
    return template.render(r=report, labels=LABELS, svg=inline, images=images or {}, note=note,
                           link=link, pdf_link=pdf_link, note_slot=note_slot)  # fmt: skip


def pdf(html: str) -> bytes:
    """The PDF of a rendered HTML report."""
    from weasyprint import HTML

    written: bytes = HTML(string=html).write_pdf()
    return written


def as_json(report: Report) -> dict[str, Any]:
    """The report's figures as JSON values (money as decimal strings)."""
    value = _plain(asdict(report))
    assert isinstance(value, dict)
    return value


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value.normalize()) if value else "0"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    return value


def _duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _saved(figure: Any, plt: Any, form: str) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format=form, dpi=110)
    plt.close(figure)
    data = buffer.getvalue()
    return data[data.index(b"<svg") :] if form == "svg" else data
