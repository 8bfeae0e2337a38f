"""``fillstream alerts``: check a rules file, list alerts, set and end silences.

  fillstream alerts check [FILE]          validate rules and channels; show the rules
  fillstream alerts list [--all]          alerts raised now (--all: the history, newest first)
  fillstream alerts silence --match rule=daily-loss --match account=Sim101 --for 2h \\
      --comment "known: broker outage"    hold matching alerts back (an event on the log)
  fillstream alerts silences              silences in force
  fillstream alerts unsilence ID          end a silence now

Each command takes --json for machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from alerts.channels import channels_from_config
from alerts.silences import in_force, silence
from core.config_files import load_file
from core.database import connect
from core.errors import ConfigError
from core.settings import Settings
from core.text import text_table as table
from core.text import when
from domain.alerts.rules import ReportRoutes, parse_duration, parse_rules
from schemas.codec import default_codec
from schemas.events import AlertSilenced

_LIMIT = 50


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream alerts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a rules file and its channels")
    check.add_argument("file", nargs="?", type=Path, help="default: FILLSTREAM_ALERT_RULES")
    listing = commands.add_parser("list", help="alerts raised now, or --all of them")
    listing.add_argument("--all", action="store_true", help="the history, newest first")
    listing.add_argument("--limit", type=int, default=_LIMIT, help=f"rows (default {_LIMIT})")
    hold = commands.add_parser("silence", help="hold matching alerts back for a while")
    hold.add_argument(
        "--match", action="append", required=True, metavar="LABEL=VALUE",
        help="a label the alerts must have (rule=NAME, account=…, service=…); repeatable",
    )  # fmt: skip
    hold.add_argument("--for", dest="duration", required=True, help="how long: 90m, 2h, 1d")
    hold.add_argument("--comment", default="", help="why, for whoever reads the silences")
    hold.add_argument("--by", help="who (default: the operating system user)")
    commands.add_parser("silences", help="the silences in force")
    end = commands.add_parser("unsilence", help="end a silence now")
    end.add_argument("silence_id", metavar="ID")
    for sub in (check, listing, hold, end, commands.choices["silences"]):
        sub.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    match args.command:
        case "check":
            return _check(settings, args.file, args.json)
        case "list":
            return _list(settings, args.all, args.limit, args.json)
        case "silence":
            matchers = dict(_matcher(m) for m in args.match)
            duration = timedelta(seconds=parse_duration(args.duration, "--for", allow_zero=False))
            event = silence(
                settings, default_codec(), matchers, duration=duration, comment=args.comment,
                by=args.by,
            )  # fmt: skip
            _print_silences([event], args.json)
            return 0
        case "silences":
            _print_silences(_in_force(settings), args.json)
            return 0
        case _:
            return _unsilence(settings, args.silence_id, args.json)


def _check(settings: Settings, file: Path | None, as_json: bool) -> int:
    path = file or settings.alert_rules
    if path is None:
        raise ConfigError("FILLSTREAM_ALERT_RULES", "is not set, and no FILE was given")
    rules = load_file(path, "FILLSTREAM_ALERT_RULES", parse_rules)
    channels = channels_from_config(rules.channels, os.environ, feed_token=settings.token)
    if as_json:
        print(json.dumps({
            "rules": [
                {"name": r.name, "type": r.type.value, "severity": r.severity.value,
                 "parameters": {k: str(v) for k, v in r.parameters.items()},
                 "muted_sessions": len(r.mute), "active_sessions": len(r.active)}
                for r in rules.rules
            ],
            "channels": sorted(channels),
            "repeat_seconds": rules.repeat_seconds,
            "reports": {"daily": list(rules.reports.daily), "weekly": list(rules.reports.weekly),
                        "delay_seconds": rules.reports.delay.total_seconds(),
                        "catch_up_seconds": rules.reports.catch_up.total_seconds(),
                        "baseline": rules.reports.baseline,
                        "holidays": sorted(d.isoformat() for d in rules.reports.holidays)},
        }, indent=2))  # fmt: skip
        return 0
    rows = [
        [r.name, r.type.value, r.severity.value,
         " ".join(f"{k}={v}" for k, v in r.parameters.items()),
         _sessions(len(r.mute), len(r.active))]
        for r in rules.rules
    ]  # fmt: skip
    print(f"{path}: {_count(len(rules.rules), 'rule')}, {_count(len(channels), 'channel')}: valid")
    if rows:
        print(table(["rule", "type", "severity", "parameters", "sessions"], rows))
    print(f"channels: {', '.join(sorted(channels)) or 'none (alerts are recorded, not sent)'}")
    print(_reports(rules.reports))
    return 0


def _reports(routes: ReportRoutes) -> str:
    if not routes.daily and not routes.weekly:
        return "reports: none scheduled ([reports] names no channel)"
    minutes = routes.delay.total_seconds() / 60
    sent = "; ".join(f"{kind} to {', '.join(names)}" for kind, names in
                     (("daily", routes.daily), ("weekly", routes.weekly)) if names)  # fmt: skip
    return f"reports: {sent}; {minutes:g} min after the session's close (17:00 Chicago)" + (
        f", against the baseline {routes.baseline!r}" if routes.baseline else ""
    )


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _sessions(muted: int, active: int) -> str:
    parts = [f"{muted} muted" if muted else "", f"{active} active" if active else ""]
    return ", ".join(p for p in parts if p) or "always"


def _list(settings: Settings, everything: bool, limit: int, as_json: bool) -> int:
    with connect(settings) as conn:
        if everything:
            cursor = conn.execute(
                "SELECT raised_at, resolved_at, severity, rule, key, summary FROM alert_history"
                " ORDER BY raised_at DESC, rule, key LIMIT %s",
                (limit,),
            )
        else:
            cursor = conn.execute(
                "SELECT raised_at, NULL, severity, rule, key, summary FROM alerts_active"
                " ORDER BY raised_at DESC, rule, key LIMIT %s",
                (limit,),
            )
        rows = cursor.fetchall()
    if as_json:
        print(json.dumps([
            {"raised_at": raised.isoformat(),
             "resolved_at": resolved.isoformat() if resolved else None,
             "severity": severity, "rule": rule, "key": key, "summary": summary}
            for raised, resolved, severity, rule, key, summary in rows
        ], indent=2))  # fmt: skip
        return 0
    if not rows:
        print("no alerts" if everything else "no alerts raised")
        return 0
    headers = ["raised", "resolved", "severity", "rule", "key", "summary"]
    cells = [
        [when(raised), when(resolved) if resolved else ("-" if everything else ""),
         severity, rule, key, summary]
        for raised, resolved, severity, rule, key, summary in rows
    ]  # fmt: skip
    if not everything:
        headers.pop(1)
        for row in cells:
            row.pop(1)
    print(table(headers, cells))
    return 0


def _in_force(settings: Settings) -> list[AlertSilenced]:
    found = in_force(settings, default_codec(), timeout=30)
    if found is None:
        raise ConfigError("KAFKA_BOOTSTRAP_SERVERS", "could not read control.silences in 30 s")
    return found


def _unsilence(settings: Settings, silence_id: str, as_json: bool) -> int:
    found = next((s for s in _in_force(settings) if s.silence_id == silence_id), None)
    if found is None:
        print(f"fillstream alerts: no silence {silence_id!r} is in force", file=sys.stderr)
        return 1
    ended = silence(
        settings, default_codec(), found.matchers, duration=timedelta(0),
        comment=found.comment, by=found.created_by, silence_id=silence_id,
    )  # fmt: skip
    _print_silences([ended], as_json)
    return 0


def _print_silences(silences: Sequence[AlertSilenced], as_json: bool) -> None:
    if as_json:
        print(json.dumps([silence_json(s) for s in silences], indent=2))
        return
    if not silences:
        print("no silences in force")
        return
    rows = [
        [s.silence_id, " ".join(f"{k}={v}" for k, v in sorted(s.matchers.items())),
         when(s.starts_at), when(s.ends_at), s.created_by, s.comment]
        for s in silences
    ]  # fmt: skip
    print(table(["id", "matches", "from", "until", "by", "comment"], rows))


def silence_json(s: AlertSilenced) -> dict[str, Any]:
    """A silence as ``--json`` prints it (and the read API answers it)."""
    return {
        "id": s.silence_id,
        "matchers": dict(s.matchers),
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "created_by": s.created_by,
        "comment": s.comment,
    }


def _matcher(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise ConfigError("--match", f"must be LABEL=VALUE (rule=daily-loss), was {text!r}")
    return name, value
