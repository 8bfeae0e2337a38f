"""How a rebuild's catch-up is shared among processes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.parallel import plan


def test_the_largest_partitions_go_first_to_the_least_loaded_process() -> None:
    targets = {("t", 0): 100, ("t", 1): 60, ("t", 2): 50, ("t", 3): 10}
    groups = plan(targets, {("t", 3): 10}, 2)  # partition 3 has nothing left to read
    assert groups == [{("t", 0): 100}, {("t", 1): 60, ("t", 2): 50}]


@given(
    st.dictionaries(st.integers(0, 11), st.tuples(st.integers(0, 500), st.integers(0, 500))),
    st.integers(1, 4),
)
def test_every_partition_behind_is_read_by_exactly_one_process(
    partitions: dict[int, tuple[int, int]], processes: int
) -> None:
    targets = {("t", p): t for p, (t, _) in partitions.items()}
    stored = {("t", p): s for p, (_, s) in partitions.items()}
    groups = plan(targets, stored, processes)
    assigned = [tp for g in groups for tp in g]
    behind = {tp for tp, t in targets.items() if t > stored[tp]}
    assert sorted(assigned) == sorted(behind)  # each once, none caught up
    assert len(groups) <= processes and all(groups)
    assert all(g[tp] == targets[tp] for g in groups for tp in g)
