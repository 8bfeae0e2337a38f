"""The rules file: every kind parses, a mistake names its key, the version follows the text."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.gate.rules import (
    DrawdownFrom,
    GateRulesError,
    Hours,
    RuleKind,
    Scope,
    SizingMethod,
    Window,
    parse_windows,
)
from schemas.events import GateMode
from tests.unit.domain.gate.gatekit import rules

EVERY_KIND = """
[[rule]]
kind = "daily_loss"
scope = { account = "Sim101" }
limit = 500
halt = true

[[rule]]
kind = "trailing_drawdown"
limit = 2500
from = "account"

[[rule]]
kind = "max_position"
scope = { instrument = "NQ" }
limit = 4

[[rule]]
kind = "max_trades"
limit = 10
mode = "observe"

[[rule]]
kind = "loss_cooldown"
limit = 3
minutes = 30

[[rule]]
kind = "session"
hours = ["08:30-15:00"]

[[rule]]
kind = "blackout"
file = "news.csv"
before_minutes = 5
after_minutes = 10

[[rule]]
kind = "stale_data"
limit = 90

[[rule]]
kind = "duplicate_signal"
limit = 60

[[rule]]
kind = "min_reward_risk"
limit = 1.5

[[rule]]
kind = "min_confidence"
limit = 0.55

[[sizing]]
scope = { strategy = "ORB" }
method = "fixed_fraction"
equity = 50000
risk_fraction = 0.01
max_contracts = 5
"""

CPI = Window(
    start=datetime(2026, 3, 10, 13, 30, tzinfo=UTC),
    end=datetime(2026, 3, 10, 13, 31, tzinfo=UTC),
    label="CPI",
)
NEWS = {"news.csv": (CPI,)}


def test_every_kind_parses_with_its_keys() -> None:
    parsed = rules(EVERY_KIND, NEWS)
    assert {r.kind for r in parsed.rules} == set(RuleKind)
    assert parsed.rules[0].kind is RuleKind.DAILY_LOSS  # in the file's order
    daily, drawdown, position, trades, cooldown, session, blackout = parsed.rules[:7]
    assert daily.scope == Scope(account="Sim101") and daily.halt and daily.limit == 500
    assert daily.mode is GateMode.ENFORCE
    assert drawdown.drawdown_from is DrawdownFrom.ACCOUNT
    assert position.scope.matches("Sim101", "ORB", "NQ 06-26")
    assert not position.scope.matches("Sim101", "ORB", "ES 06-26")
    assert trades.mode is GateMode.OBSERVE
    assert cooldown.minutes == 30 and cooldown.limit == 3
    assert session.hours == (
        Hours(start=time(8, 30), end=time(15, 0)),
    ) and session.zone == ZoneInfo("America/Chicago")
    assert session.days == frozenset(range(5))
    assert blackout.windows == NEWS["news.csv"] and blackout.padding_minutes == (5, 10)
    (sizing,) = parsed.sizing
    assert sizing.method is SizingMethod.FIXED_FRACTION and sizing.equity == 50000
    assert parsed.sizing_for("Sim101", "ORB", "NQ 06-26") is sizing
    assert parsed.sizing_for("Sim101", "Other", "NQ 06-26").method is SizingMethod.FIXED
    assert [r.name for r in parsed.rules][:2] == ["daily_loss", "trailing_drawdown"]


def test_the_version_is_the_texts_digest() -> None:
    first = rules(EVERY_KIND, NEWS)
    assert first.version.startswith("sha256:") and len(first.version) == 23
    assert rules(EVERY_KIND, NEWS).version == first.version
    assert rules(EVERY_KIND.replace("500", "400"), NEWS).version != first.version


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[[rule]]\nkind = "daily_loss"\n', "rule[1].limit", "is required"),
        ('[[rule]]\nkind = "daily_loss"\nlimit = -5\n', "rule[1].limit", "must be positive"),
        ('[[rule]]\nkind = "daily_loss"\nlimit = "x"\n', "rule[1].limit", "must be a number"),
        ('[[rule]]\nkind = "dayly_loss"\nlimit = 5\n', "rule[1].kind", "must be one of"),
        (
            '[[rule]]\nkind = "daily_loss"\nlimit = 5\nmode = "warn"\n',
            "rule[1].mode",
            "must be one of enforce, observe",
        ),
        (
            '[[rule]]\nkind = "daily_loss"\nlimit = 5\nhalt = "yes"\n',
            "rule[1].halt",
            "must be true or false",
        ),
        ('[[rule]]\nkind = "daily_loss"\nlimit = 5\nlimt = 3\n', "rule[1].limt", "is not a key"),
        (
            '[[rule]]\nkind = "daily_loss"\nlimit = 5\nscope = { acount = "S" }\n',
            "rule[1].scope.acount",
            "is not a key",
        ),
        ('[[rule]]\nkind = "max_position"\nlimit = 1.5\n', "rule[1].limit", "whole number"),
        ('[[rule]]\nkind = "min_confidence"\nlimit = 2\n', "rule[1].limit", "probability"),
        ('[[rule]]\nkind = "session"\nhours = ["8-15"]\n', "rule[1].hours", "HH:MM-HH:MM"),
        (
            '[[rule]]\nkind = "session"\nhours = ["08:00-15:00"]\nzone = "Mars/Base"\n',
            "rule[1].zone",
            "is not a time zone",
        ),
        (
            '[[rule]]\nkind = "session"\nhours = ["08:00-15:00"]\nlimit = 3\n',
            "rule[1].limit",
            "has no limit",
        ),
        ('[[rule]]\nkind = "loss_cooldown"\nlimit = 3\n', "rule[1].minutes", "is required"),
        (
            '[[rule]]\nkind = "stale_data"\nlimit = 3\nminutes = 3\n',
            "rule[1].minutes",
            "is not a key of a stale_data rule",
        ),
        ('[[rule]]\nkind = "blackout"\nfile = "missing.csv"\n', "rule[1].file", "no such file"),
        (
            '[[rule]]\nkind = "stale_data"\nlimit = 3\n[[rule]]\nkind = "stale_data"\nlimit = 4\n',
            "rule[2].name",
            "names two rules",
        ),
        ('[[sizing]]\nmethod = "fixed_fraction"\n', "sizing[1].equity", "is required"),
        (
            '[[sizing]]\nmethod = "kelly"\nequity = 1000\nmax_fraction = 3\n',
            "sizing[1].max_fraction",
            "fraction up to 1",
        ),
        ('[[sizing]]\nmethod = "martingale"\n', "sizing[1].method", "must be one of"),
        ("[limits]\nx = 1\n", "limits", "is not a section"),
        ('rule = "x"\n', "rule", "array of tables"),
    ],
)
def test_a_mistake_names_its_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(GateRulesError) as caught:
        rules(text)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{key}: ")


def test_an_empty_file_has_no_rules_and_sizes_at_the_strategys_quantity() -> None:
    parsed = rules("")
    assert parsed.rules == () and parsed.sizing_for("A", "S", "NQ").method is SizingMethod.FIXED


def test_blackout_windows_from_rows() -> None:
    chicago = ZoneInfo("America/Chicago")
    windows = parse_windows(
        [("2026-03-11T07:30", "2026-03-11T07:35", "CPI"),
         ("2026-03-10T13:00:00+00:00", "2026-03-10T13:05:00+00:00", "FOMC")],
        zone=chicago,
    )  # fmt: skip
    assert [w.label for w in windows] == ["FOMC", "CPI"]
    assert windows[1].start == datetime(2026, 3, 11, 12, 30, tzinfo=UTC)
    with pytest.raises(GateRulesError, match="line 2"):
        parse_windows([("2026-03-11T07:35", "2026-03-11T07:30", "x")], zone=chicago)
    with pytest.raises(GateRulesError, match="line 3: not an ISO time"):
        parse_windows([("2026-03-11T07:30", "2026-03-11T07:35", "a"), ("soon", "later", "b")],
                      zone=chicago)  # fmt: skip
