"""``fillstream regimes list|current|serve|relabel``: the market regime labels in PostgreSQL,
which classifier version the regime views serve (``projections/views/2_regime_served.sql``), and
relabelling history with a new classifier (``control.relabel``)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

import psycopg

from control.relabel import phase_name, relabel
from core.database import connect
from core.progress import to_stderr
from core.settings import Settings
from core.text import json_value, text_table, when
from fillstream.errors import RegimesError

EXAMPLES = """examples:
  fillstream regimes list                     classifier versions: labels, series, span, served
  fillstream regimes current                  each instrument's regime now (the served version)
  fillstream regimes current --json
  fillstream regimes serve 2                  the views read version 2's labels from now on
  fillstream regimes serve 2 --period "5 Minute" --by alice
  fillstream regimes relabel "version=2,atr_period=20"   label all history with a new classifier
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream regimes",
        description="Market regime labels (derived.regimes) and the classifier version that the "
        "regimes, trade_regimes and performance_by_regime views serve.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="every classifier version and period labelled")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    current = commands.add_parser("current", help="each instrument's served regime now")
    current.add_argument("--json", action="store_true", help="print JSON for machines")
    serve = commands.add_parser(
        "serve",
        help="make the views read one classifier version's labels",
        description="Make the regime views read the labels of classifier VERSION (on PERIOD, "
        "by default the only period it labelled). Refused unless that version has labels.",
    )
    serve.add_argument("version", type=int, metavar="VERSION")
    serve.add_argument("--period", help="the bar period, e.g. '1 Minute'")
    serve.add_argument("--by", default=getpass.getuser(), help="who chose it (default: you)")
    again = commands.add_parser(
        "relabel",
        help="label all of history with a new classifier, beside the one served",
        description="Add the classifier of PARAMETERS (FILLSTREAM_REGIME's form, its own version)"
        " to those configured, in a phase named regimes-v<version>, and rewind the regime stage "
        "to the beginning: once the worker runs, every bar is labelled by each classifier. The "
        "views keep serving the current version until `fillstream regimes serve <version>`; "
        "`fillstream phase rollback regimes-v<version> --execute` undoes it. The worker must be "
        "stopped (one that `fillstream up` runs is stopped and started again).",
    )
    again.add_argument("parameters", metavar="PARAMETERS", help='e.g. "version=2,atr_period=20"')
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "relabel":
        added = relabel(settings, args.parameters, say=to_stderr)
        version, phase = added.version, phase_name(added.version)
        print(f"classifier version {version} labels history in phase {phase} once the worker runs")
        print("  progress:  fillstream regimes list  (or: fillstream offsets show streams.regimes)")
        print(f"  serve it:  fillstream regimes serve {version}")
        print(f"  undo:      fillstream phase rollback {phase} --execute")
        return 0
    with connect(settings) as conn:
        if args.command == "list":
            return _list(conn, args.json)
        if args.command == "current":
            return _current(conn, args.json)
        choice = serve_version(conn, args.version, args.period, args.by)
        print(f"the regime views now serve classifier version {choice[0]} on {choice[1]} bars")
        return 0


def list_versions(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Each (classifier version, period) labelled: its labels, series, span and whether served."""
    rows = conn.execute(
        """
        SELECT l.classifier_version, l.period, count(*), count(DISTINCT l.instrument),
               min(l.ts_event), max(l.ts_event),
               coalesce(bool_or(s.classifier_version IS NOT NULL), false),
               coalesce(bool_or(s.chosen), false)
        FROM regime_labels l
        LEFT JOIN regime_served s USING (classifier_version, period)
        GROUP BY l.classifier_version, l.period
        ORDER BY l.classifier_version, l.period
        """
    ).fetchall()
    return [
        {"classifier_version": version, "period": period, "labels": labels,
         "instruments": instruments, "first_label": first, "last_label": last,
         "served": served, "chosen": chosen}
        for version, period, labels, instruments, first, last, served, chosen in rows
    ]  # fmt: skip


def serve_version(
    conn: psycopg.Connection[Any], version: int, period: str | None, by: str
) -> tuple[int, str]:
    """Record that the views serve ``version`` on ``period``; refused without its labels."""
    periods = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT period FROM regime_labels WHERE classifier_version = %s"
            " ORDER BY period",
            (version,),
        )
    ]
    if not periods:
        raise RegimesError(
            f"classifier version {version} has no labels: relabel with it first "
            f'(fillstream regimes relabel "version={version},…"; `fillstream regimes list` shows '
            "those there are)"
        )
    if period is None:
        if len(periods) > 1:
            raise RegimesError(
                f"classifier version {version} labelled several periods ({', '.join(periods)}):"
                " choose one with --period"
            )
        period = periods[0]
    elif period not in periods:
        raise RegimesError(
            f"classifier version {version} has no labels on {period!r} bars, only on "
            f"{', '.join(repr(p) for p in periods)}"
        )
    conn.execute(
        """
        INSERT INTO regime_serving (classifier_version, period, chosen_by) VALUES (%s, %s, %s)
        ON CONFLICT (singleton) DO UPDATE
        SET classifier_version = excluded.classifier_version, period = excluded.period,
            chosen_at = now(), chosen_by = excluded.chosen_by
        """,
        (version, period, by),
    )
    conn.commit()
    return version, period


def current_regimes(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Each instrument's served label in force now (the last one)."""
    rows = conn.execute(
        """
        SELECT instrument, period, label, starts_at, atr, atr_percentile, trend_strength,
               classifier_version
        FROM regimes WHERE ends_at IS NULL ORDER BY instrument
        """
    ).fetchall()
    return [
        {"instrument": instrument, "period": period, "regime": label, "since": since,
         "atr": atr, "atr_percentile": percentile, "trend_strength": strength,
         "classifier_version": version}
        for instrument, period, label, since, atr, percentile, strength, version in rows
    ]  # fmt: skip


def _list(conn: psycopg.Connection[Any], as_json: bool) -> int:
    versions = list_versions(conn)
    if as_json:
        print(json.dumps(versions, indent=2, default=json_value))
        return 0
    if not versions:
        print("no regime labels yet: the worker labels bars of FILLSTREAM_REGIME_PERIOD")
        return 0
    print(
        text_table(
            ["version", "period", "labels", "instruments", "first", "last", "served"],
            [
                [
                    str(v["classifier_version"]),
                    v["period"],
                    str(v["labels"]),
                    str(v["instruments"]),
                    when(v["first_label"]),
                    when(v["last_label"]),
                    ("yes (chosen)" if v["chosen"] else "yes (oldest)") if v["served"] else "no",
                ]
                for v in versions
            ],  # fmt: skip
        )
    )
    return 0


def _current(conn: psycopg.Connection[Any], as_json: bool) -> int:
    regimes = current_regimes(conn)
    if as_json:
        print(json.dumps(regimes, indent=2, default=json_value))
        return 0
    if not regimes:
        print("no regime labels served yet")
        return 0
    print(
        text_table(
            ["instrument", "period", "regime", "since", "ATR pct", "trend", "version"],
            [
                [
                    r["instrument"],
                    r["period"],
                    r["regime"],
                    when(r["since"]),
                    _number(r["atr_percentile"]),
                    _number(r["trend_strength"]),
                    str(r["classifier_version"]),
                ]
                for r in regimes
            ],  # fmt: skip
        )
    )
    return 0


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"
