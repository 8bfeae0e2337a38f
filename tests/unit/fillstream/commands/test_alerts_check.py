"""``fillstream alerts check``: a valid file's rules, channels and scheduled reports, in words
and as JSON; a report routed to a channel that is none is the one-line error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from fillstream.commands.alerts import main

FILE = """
[[rules]]
name = "daily-loss"
type = "daily_loss"
limit = "1000"

[channels.desk-mail]
type = "email"
host = "127.0.0.1"
security = "none"
sender = "fillstream@example.com"
recipients = ["desk@example.com"]

[channels.desk-chat]
type = "webhook"
url = "http://127.0.0.1:9/hook"

[reports]
daily = ["desk-mail", "desk-chat"]
weekly = ["{weekly}"]
delay = "15m"
baseline = "before-ml"
holidays = [2026-12-25]
"""


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILLSTREAM_TOKEN", "a-token-long-enough-for-the-check")


def test_the_check_shows_the_scheduled_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE.format(weekly="desk-mail"))
    assert main(["check", str(path)]) == 0
    said = capsys.readouterr().out
    assert "1 rule, 2 channels: valid" in said
    scheduled = (
        "reports: daily to desk-mail, desk-chat; weekly to desk-mail; 15 min after "
        "the session's close (17:00 Chicago), against the baseline 'before-ml'"
    )
    assert scheduled in said
    assert main(["check", str(path), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)["reports"]
    assert reports == {"daily": ["desk-mail", "desk-chat"], "weekly": ["desk-mail"],
                       "delay_seconds": 900.0, "catch_up_seconds": 259200.0,
                       "baseline": "before-ml", "holidays": ["2026-12-25"]}  # fmt: skip


def test_a_report_to_a_channel_that_is_none_names_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(FILE.format(weekly="desk-mal"))
    with pytest.raises(ConfigError) as refused:
        main(["check", str(path)])
    assert refused.value.setting == "reports.weekly"
    assert refused.value.reason == "names no channel 'desk-mal' (channels: desk-chat, desk-mail)"
