"""The local stack's checks before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from fillstream import stack


def test_up_refuses_a_bad_regime_before_it_starts_anything(tmp_path: Path) -> None:
    settings = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path), "FILLSTREAM_REGIME": "atr=14"})
    lines: list[str] = []
    with pytest.raises(ConfigError) as caught:
        stack.up(settings, echo=lines.append)
    assert caught.value.setting == "FILLSTREAM_REGIME"
    assert lines == []
    assert list(tmp_path.iterdir()) == []


def test_up_refuses_bad_gate_rules_naming_the_key_before_it_starts_anything(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules" / "gate.toml"
    rules.parent.mkdir()
    rules.write_text('[[rule]]\nkind = "daily_loss"\nlimit = -5\n')
    home = tmp_path / "home"
    settings = Settings.from_env(
        {"FILLSTREAM_HOME": str(home), "FILLSTREAM_GATE_RULES": str(rules)}
    )
    lines: list[str] = []
    with pytest.raises(ConfigError) as caught:
        stack.up(settings, echo=lines.append)
    assert caught.value.setting == "FILLSTREAM_GATE_RULES"
    assert caught.value.reason.endswith("rule[1].limit: must be positive, was -5")
    assert lines == [] and not home.exists()
