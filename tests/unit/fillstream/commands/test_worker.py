"""The stream worker: its process counts, and the settings it checks at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from fillstream.commands import worker
from fillstream.commands.worker import default_matching_processes


@pytest.mark.parametrize(
    ("partitions", "cores", "expected"),
    [(3, 1, 1), (3, 2, 1), (3, 3, 2), (3, 4, 3), (3, 16, 3), (1, 8, 1), (6, 4, 3)],
)
def test_matching_runs_one_process_per_partition_leaving_a_core_free(
    partitions: int, cores: int, expected: int
) -> None:
    assert default_matching_processes(partitions, cores) == expected


def test_a_changelog_read_back_is_compacted_before_a_stage_restores_it() -> None:
    """A rewind leaves tombstones the broker has not compacted yet: restore must not see the
    values they delete."""
    from streams.runtime.deriver import Record, compacted

    def r(offset: int, key: bytes, value: bytes) -> Record:
        return Record("changelog", 0, offset, key, value)

    records = [r(0, b"a", b"1"), r(1, b"b", b"1"), r(2, b"a", b""), r(3, b"c", b"1"),
               r(4, b"b", b"2"), r(5, b"a", b"3")]  # fmt: skip
    assert [(x.key, x.value) for x in compacted(records)] == [
        (b"c", b"1"), (b"b", b"2"), (b"a", b"3"),
    ]  # fmt: skip
    assert compacted([r(0, b"a", b"1"), r(1, b"a", b"")]) == []


@pytest.mark.parametrize(
    ("regime", "reason"),
    [("version=0", "version must be at least 1"), ("window=20", "expected name=value")],
)
def test_the_worker_refuses_a_bad_regime_before_it_starts_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, regime: str, reason: str
) -> None:
    monkeypatch.setenv("FILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing to reach there
    monkeypatch.setenv("FILLSTREAM_REGIME", regime)
    with pytest.raises(ConfigError) as caught:
        worker.main([])
    assert caught.value.setting == "FILLSTREAM_REGIME"
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
