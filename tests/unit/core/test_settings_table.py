"""The settings table (``core.settings.SETTINGS``): one row per ``Settings`` attribute, from
which loading, exporting, the phase settings and the configuration reference are made."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from core.control_log import check_settings
from core.errors import ConfigError
from core.settings import PHASE_SETTINGS, SETTINGS, Settings


def test_every_settings_field_has_exactly_one_row() -> None:
    fields = [f.name for f in dataclasses.fields(Settings)]
    rows = [s.field for s in SETTINGS]
    assert sorted(rows) == sorted(fields)
    assert len(rows) == len(set(rows))
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_the_defaults_survive_a_trip_through_the_environment(tmp_path: Path) -> None:
    defaults = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path)})
    assert Settings.from_env(defaults.to_env()) == defaults


def test_chosen_settings_survive_a_trip_through_the_environment(tmp_path: Path) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text("")
    chosen = Settings.from_env(
        {
            "FILLSTREAM_HOME": str(tmp_path / "home"),
            "FILLSTREAM_NAMESPACE": "ns_7",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
            "DATABASE_URL": "postgresql://db/fillstream",
            "FILLSTREAM_TOKEN": "t" * 24,
            "FILLSTREAM_KAFKA_PORT": "29092",
            "FILLSTREAM_KAFKA_CONTROLLER_PORT": "29093",
            "FILLSTREAM_PG_PORT": "25432",
            "FILLSTREAM_BRIDGE_HOST": "0.0.0.0",
            "FILLSTREAM_BRIDGE_TLS_CERT": str(tmp_path / "cert.pem"),
            "FILLSTREAM_BRIDGE_TLS_KEY": str(tmp_path / "key.pem"),
            "FILLSTREAM_BRIDGE_INSECURE_BIND": "on",
            "FILLSTREAM_METRICS_HOST": "::",
            "FILLSTREAM_BRIDGE_PORT": "9787",
            "FILLSTREAM_WORKER_PORT": "9788",
            "FILLSTREAM_PROJECTOR_PORT": "9789",
            "FILLSTREAM_NOTIFY_PORT": "9790",
            "FILLSTREAM_API_PORT": "9791",
            "FILLSTREAM_API_HOST": "0.0.0.0",
            "FILLSTREAM_API_INSECURE_BIND": "on",
            "FILLSTREAM_WEB_DIR": str(tmp_path / "web"),
            "FILLSTREAM_LOG_LEVEL": "DEBUG",
            "FILLSTREAM_FEED_SILENCE_SECONDS": "12.5",
            "FILLSTREAM_READY_LAG_RECORDS": "0",
            "FILLSTREAM_STALL_SECONDS": "7",
            "FILLSTREAM_HEALTH_INTERVAL_SECONDS": "1",
            "FILLSTREAM_BRIDGE_ACK_TIMEOUT": "0.5",
            "FILLSTREAM_GATE_RULES": str(rules),
            "FILLSTREAM_GATE_TIMEOUT": "0.75",
            "FILLSTREAM_ACCURACY_SCHEDULE": "off",
            "FILLSTREAM_IMPORTED_TRADES": "off",
            "FILLSTREAM_MATCHING": "average-cost",
            "FILLSTREAM_ROLLING_TRADES": "20",
            "FILLSTREAM_GRACE_MS": "0",
            "FILLSTREAM_DRIFT_GRACE_MS": "1500",
            "FILLSTREAM_EXCURSION_PERIOD": "2000 Tick",
            "FILLSTREAM_CONTEXT_DAYS": "30",
            "FILLSTREAM_CORRECTION_WINDOW_HOURS": "24",
            "FILLSTREAM_REGIME": "version=1; version=2,atr_period=20",
            "FILLSTREAM_REGIME_PERIOD": "5 Minute",
            "FILLSTREAM_PAPER": "off",
            "FILLSTREAM_PAPER_SLIPPAGE_TICKS": "0",
            "FILLSTREAM_PAPER_COMMISSION": "0.85",
            "FILLSTREAM_CAPITAL": "Sim101=100000.50,APEX-1=25000,50000",
            "FILLSTREAM_LOCAL_STATE": "off",
            "FILLSTREAM_ALERT_RULES": str(rules),
        }
    )
    defaults = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path)})
    differ = [s.field for s in SETTINGS if getattr(chosen, s.field) != getattr(defaults, s.field)]
    assert differ == [s.field for s in SETTINGS]  # the sample leaves no setting at its default
    assert chosen.capital_of("Sim101") == Decimal("100000.50")
    assert Settings.from_env(chosen.to_env()) == chosen


def test_every_variable_of_the_table_is_exported(tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text("")
    settings = Settings.from_env(
        {
            "FILLSTREAM_HOME": str(tmp_path),
            "FILLSTREAM_TOKEN": "t" * 16,
            "FILLSTREAM_ALERT_RULES": str(rules),
            "FILLSTREAM_GATE_RULES": str(rules),
            "FILLSTREAM_BRIDGE_TLS_CERT": "cert.pem",
            "FILLSTREAM_BRIDGE_TLS_KEY": "key.pem",
            "FILLSTREAM_WEB_DIR": "web",
        }
    )
    assert set(settings.to_env()) == {s.env for s in SETTINGS}


def test_every_row_is_documented() -> None:
    for s in SETTINGS:
        assert s.doc.strip(), s.env
        assert "\n" not in s.doc, s.env  # one paragraph
        assert isinstance(s.default, str), s.env


def test_the_reference_shows_the_defaults_the_settings_take(tmp_path: Path) -> None:
    defaults = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path)})
    shown = {s.env: s.default for s in SETTINGS}
    assert shown["FILLSTREAM_BRIDGE_PORT"] == str(defaults.bridge_port) == "8787"
    assert shown["FILLSTREAM_STALL_SECONDS"] == "30"
    assert shown["FILLSTREAM_PAPER"] == "on"
    assert shown["FILLSTREAM_HOME"] == "<project>/.fillstream"
    assert shown["KAFKA_BOOTSTRAP_SERVERS"] == shown["FILLSTREAM_ALERT_RULES"] == ""
    for s in SETTINGS:  # a shown default is the value taken when the variable is unset
        if s.default and s.env != "FILLSTREAM_HOME":
            again = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path), s.env: s.default})
            assert getattr(again, s.field) == getattr(defaults, s.field), s.env


def test_the_phase_settings_are_the_derivations() -> None:
    assert PHASE_SETTINGS == (
        "FILLSTREAM_MATCHING",
        "FILLSTREAM_GRACE_MS",
        "FILLSTREAM_DRIFT_GRACE_MS",
        "FILLSTREAM_CONTEXT_DAYS",
        "FILLSTREAM_EXCURSION_PERIOD",
        "FILLSTREAM_ROLLING_TRADES",
        "FILLSTREAM_CAPITAL",
        "FILLSTREAM_REGIME",
        "FILLSTREAM_REGIME_PERIOD",
    )
    check_settings({name: "" for name in PHASE_SETTINGS})
    with pytest.raises(ConfigError) as caught:
        check_settings({"FILLSTREAM_TOKEN": "x" * 16})
    assert str(caught.value) == (
        "FILLSTREAM_TOKEN is not a phase setting (one of " + ", ".join(PHASE_SETTINGS) + ")"
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("", 60), ("off", None), ("OFF", None), ("0", 0), ("1440", 1440)]
)
def test_the_accuracy_schedule_is_off_or_minutes(text: str, expected: int | None) -> None:
    settings = Settings.from_env({"FILLSTREAM_ACCURACY_SCHEDULE": text})
    assert settings.accuracy_schedule == expected


@pytest.mark.parametrize("text", ["nightly", "-5", "1441"])
def test_a_bad_accuracy_schedule_names_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="FILLSTREAM_ACCURACY_SCHEDULE") as caught:
        Settings.from_env({"FILLSTREAM_ACCURACY_SCHEDULE": text})
    assert "off or" in str(caught.value)
