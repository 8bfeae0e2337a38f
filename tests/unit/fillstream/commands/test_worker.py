"""The stream worker's process counts."""

from __future__ import annotations

import pytest

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
