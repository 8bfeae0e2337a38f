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
