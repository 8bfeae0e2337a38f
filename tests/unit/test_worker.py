"""The stream worker's process counts."""

from __future__ import annotations

import pytest

from streams.cmd_worker import default_matching_processes


@pytest.mark.parametrize(
    ("partitions", "cores", "expected"),
    [(3, 1, 1), (3, 2, 1), (3, 3, 2), (3, 4, 3), (3, 16, 3), (1, 8, 1), (6, 4, 3)],
)
def test_matching_runs_one_process_per_partition_leaving_a_core_free(
    partitions: int, cores: int, expected: int
) -> None:
    assert default_matching_processes(partitions, cores) == expected
