"""The alert rules file: the example in deploy/, TOML and YAML alike, and clear errors."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config_files import load_file
from core.errors import ConfigError
from core.settings import PROJECT_ROOT
from domain.alerts.rules import ReportRoutes, RuleSet, RuleType, parse_rules
from schemas.events import MetricScope, Severity

EXAMPLE = PROJECT_ROOT / "deploy" / "alerts" / "alerts.toml"


MAIL = {"channels": {"mail": {"type": "email"}}}


def load_rules(path: Path) -> RuleSet:
    return load_file(path, "FILLSTREAM_ALERT_RULES", parse_rules)


def test_the_example_file_has_every_rule_type() -> None:
    ruleset = load_rules(EXAMPLE)
    assert {rule.type for rule in ruleset.rules} == set(RuleType)
    drawdown = ruleset.rules[0]
    assert drawdown.parameters == {"limit": Decimal("2500")}
    assert drawdown.severity is Severity.CRITICAL and drawdown.labels == {"team": "desk"}
    win_rate = next(r for r in ruleset.rules if r.type is RuleType.WIN_RATE)
    assert win_rate.scope is MetricScope.STRATEGY and len(win_rate.mute) == 1
    assert win_rate.parameters == {"baseline": 0.55, "drop": 0.15, "min_trades": 20}
    assert ruleset.repeat_seconds == 4 * 3600 and ruleset.group_seconds == 10


def test_yaml_reads_like_toml(tmp_path: Path) -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    as_yaml = tmp_path / "alerts.yaml"
    as_yaml.write_text(yaml.safe_dump(document))
    assert load_rules(as_yaml) == load_rules(EXAMPLE)


def test_defaults() -> None:
    (rule,) = parse_rules({"rules": [{"name": "f", "type": "feed_silent"}]}).rules
    assert rule.severity is Severity.WARNING and rule.parameters == {"seconds": 60.0}
    assert parse_rules({}).rules == ()


@pytest.mark.parametrize(
    ("document", "setting", "reason"),
    [
        ({"rule": []}, "rule", "is not a setting here"),
        ({"rules": {}}, "rules", "must be a list of rules"),
        ({"rules": [{"type": "drawdown", "limit": 1}]}, "rules[0].name", "must be letters"),
        ({"rules": [{"name": "a", "type": "drawdwn"}]}, "rules[0].type", "must be one of drawdown"),
        ({"rules": [{"name": "a", "type": "drawdown"}]}, "rules[0].limit", "is required"),
        ({"rules": [{"name": "a", "type": "drawdown", "limit": -5}]}, "rules[0].limit",
         "must be a positive number, was -5"),
        ({"rules": [{"name": "a", "type": "drawdown", "limit": "1e999x"}]}, "rules[0].limit",
         "must be a positive number"),
        ({"rules": [{"name": "a", "type": "loss_streak", "count": 2.5}]}, "rules[0].count",
         "must be a whole number"),
        ({"rules": [{"name": "a", "type": "win_rate", "baseline": 1.5}]}, "rules[0].baseline",
         "between 0 and 1"),
        ({"rules": [{"name": "a", "type": "feed_silent", "seconds": "soon"}]}, "rules[0].seconds",
         "must be a duration like 90s"),
        ({"rules": [{"name": "a", "type": "feed_silent", "limit": 3}]}, "rules[0].limit",
         "is not a setting here"),
        ({"rules": [{"name": "a", "type": "feed_silent", "scope": "account"}]}, "rules[0].scope",
         "applies to performance rules"),
        ({"rules": [{"name": "a", "type": "rebuild_failed", "severity": "loud"}]},
         "rules[0].severity", "must be one of info, warning, critical"),
        ({"rules": [{"name": "a", "type": "rebuild_failed"},
                    {"name": "a", "type": "unhealthy"}]}, "rules[1].name", "earlier rule"),
        ({"rules": [{"name": "a", "type": "rebuild_failed", "mute": {"between": "9-10"}}]},
         "rules[0].mute[0].between", "must be two times"),
        ({"rules": [{"name": "a", "type": "rebuild_failed",
                     "mute": {"between": "09:00-10:00", "timezone": "Mars/Olympus"}}]},
         "rules[0].mute[0].timezone", "IANA time zone"),
        ({"rules": [{"name": "a", "type": "rebuild_failed",
                     "active": [{"between": "09:00-10:00", "days": ["monday"]}]}]},
         "rules[0].active[0].days", "must list days of mon"),
        ({"delivery": {"repeat_interval": "often"}}, "delivery.repeat_interval", "duration"),
        ({"channels": {"mail": "smtp://x"}}, "channels.mail", "must be a table"),
        ({"reports": {"daily": ["mail"]}}, "reports.daily", "names no channel 'mail'"),
        ({"reports": {"weekly": "mail"}, **MAIL}, "reports.weekly", "must be a list of channel"),
        ({"reports": {"daily": ["live"]}, "channels": {"live": {"type": "feed"}}},
         "reports.daily", "'live' is a feed channel: reports go by email or webhook"),
        ({"reports": {"daily": ["mail", "mail"]}, **MAIL}, "reports.daily",
         "names a channel twice"),
        ({"reports": {"dayly": ["mail"]}, **MAIL}, "reports.dayly", "is not a setting here"),
        ({"reports": {"delay": "soon"}}, "reports.delay", "must be a duration"),
        ({"reports": {"delay": "8d"}}, "reports.delay", "less than 7 days"),
        ({"reports": {"link": "fillstream.example.com"}}, "reports.link", "read API's address"),
        ({"reports": {"link": "https://x.example/reports"}}, "reports.link", "read API's address"),
        ({"reports": {"holidays": ["2026-12-32"]}}, "reports.holidays[0]", "a day like"),
        ({"reports": {"baseline": ""}}, "reports.baseline", "must be a name"),
    ],
)  # fmt: skip
def test_errors_name_the_place_and_the_reason(
    document: dict[str, Any], setting: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(document)
    assert caught.value.setting == setting
    assert reason in caught.value.reason


def test_reports_routes_with_their_defaults_and_settings() -> None:
    assert parse_rules({}).reports == ReportRoutes()
    assert ReportRoutes().delay == timedelta(minutes=10)
    document = tomllib.loads("""
[channels.mail]
type = "email"
[channels.desk]
type = "webhook"
[reports]
daily = ["mail", "desk"]
weekly = ["mail"]
delay = "30m"
catch_up = "2d"
baseline = "2025-h1"
link = "https://fillstream.example.com/"
holidays = [2026-12-25, "2027-01-01"]
account = "Sim101"
""")
    routes = parse_rules(document).reports
    assert routes.daily == ("mail", "desk") and routes.weekly == ("mail",)
    assert routes.routes("weekly") == ("mail",)
    assert routes.delay == timedelta(minutes=30) and routes.catch_up == timedelta(days=2)
    assert routes.baseline == "2025-h1" and routes.account == "Sim101"
    assert routes.link == "https://fillstream.example.com"
    assert routes.holidays == {date(2026, 12, 25), date(2027, 1, 1)}


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text("[[rules]\nname = 1")
    with pytest.raises(
        ConfigError, match=r"FILLSTREAM_ALERT_RULES .*alerts.toml is not valid toml"
    ):
        load_rules(bad)
    with pytest.raises(ConfigError, match="must name a .toml, .yaml or .yml file"):
        load_rules(tmp_path / "alerts.ini")
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")
