"""Reading the gate's rules file (``FILLSTREAM_GATE_RULES``) and the blackout files it names.

A blackout file is named relative to the rules file: a CSV with the columns ``start``, ``end``
and ``label`` (ISO times; without an offset, in America/Chicago, the CME's zone), or an iCalendar
file (``.ics``) whose events (``DTSTART`` and ``DTEND`` or ``DURATION``, ``SUMMARY``) are the
windows; an all-day event blacks out its whole day. Any mistake is one ``ConfigError`` naming
the setting, the file and the key or line. The version is the digest of the rules file's text and
of each blackout file's bytes.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from core.config_files import load_file
from core.errors import ConfigError
from domain.gate.rules import GateRulesError, Rules, Window, parse, parse_windows, version_of

SETTING = "FILLSTREAM_GATE_RULES"
EXCHANGE_ZONE = ZoneInfo("America/Chicago")


def load_rules(path: Path, setting: str = SETTING) -> Rules:
    """The rules of ``path``; ``ConfigError(setting, "<path>: <key>: <reason>")`` on a mistake."""
    text = _text(path, setting)

    def parsed(document: Any) -> Rules:
        if not isinstance(document, dict):
            raise ConfigError(setting, f"{path}: must hold [[rule]] and [[sizing]] tables")
        try:
            return rules_of(document, text, path.parent)
        except GateRulesError as e:
            raise ConfigError(setting, f"{path}: {e}") from e

    return load_file(path, setting, parsed)


def rules_of(document: dict[str, Any], text: str, folder: Path) -> Rules:
    """The rules of a parsed document whose text is ``text``, its blackout files read from
    ``folder``; the version covers the text and those files (a changed calendar is a new
    version). ``GateRulesError`` naming the key on a mistake."""
    read: list[bytes] = []

    def windows(name: str) -> tuple[Window, ...]:
        found = blackouts(folder / name)
        read.append((folder / name).read_bytes())
        return found

    rules = parse(document, text=text, blackouts=windows)
    return replace(rules, version=version_of(text, *read))


def _text(path: Path, setting: str) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise ConfigError(setting, f"cannot read {path}: {e.strerror or e}") from e


def blackouts(path: Path) -> tuple[Window, ...]:
    """The windows of a CSV or ICS file; ``GateRulesError`` naming the line or event."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GateRulesError(str(path), f"cannot read it: {e.strerror or e}") from e
    if path.suffix.lower() == ".ics":
        return _calendar(raw)
    if path.suffix.lower() != ".csv":
        raise GateRulesError(str(path), "must be a .csv or .ics file")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    if rows and not {"start", "end"} <= set(rows[0]):
        raise GateRulesError("line 1", "the header must name start, end and label")
    return parse_windows(
        [(row["start"] or "", row["end"] or "", row.get("label") or "") for row in rows],
        zone=EXCHANGE_ZONE,
    )


def _calendar(raw: bytes) -> tuple[Window, ...]:
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except ValueError as e:
        raise GateRulesError("calendar", f"not an iCalendar file ({e})") from e
    windows = []
    for n, event in enumerate(calendar.walk("VEVENT"), start=1):
        label = str(event.get("SUMMARY", f"event {n}"))
        try:
            first, last = event.start, event.end  # type: ignore[attr-defined]
            start, end = _moment(first), _moment(last)
        except (icalendar.InvalidCalendar, KeyError, TypeError) as e:
            raise GateRulesError(f"event {n} ({label})", f"has no start and end ({e})") from e
        if isinstance(first, date) and not isinstance(first, datetime):
            end = max(end, start + timedelta(days=1))
        windows.append(Window(start=start, end=end, label=label))
    return tuple(sorted(windows, key=lambda w: w.start))


def _moment(value: date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=EXCHANGE_ZONE)
    return datetime.combine(value, time(0), EXCHANGE_ZONE)
