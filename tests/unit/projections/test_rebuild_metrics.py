"""Rebuild progress: how far a version being built is, from its stored offsets and the topics'
bounds; and a collector that neither reads anything when registered nor fails a scrape."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from core.settings import Settings
from projections.rebuild_metrics import RebuildCollector, progress
from tests.fixtures.services import free_port

FAMILIES = (
    "fillstream_projection_rebuild_remaining_records",
    "fillstream_projection_rebuild_projected_records",
    "fillstream_projection_rebuild_updated_timestamp_seconds",
)


def test_progress_counts_from_each_partition_start_and_all_of_a_partition_not_stored() -> None:
    bounds = {("t", 0): (0, 100), ("t", 1): (10, 50), ("u", 0): (0, 7)}
    assert progress({}, bounds) == (0, 100 + 40 + 7)
    assert progress({("t", 0): 60, ("t", 1): 50}, bounds) == (60 + 40, 40 + 0 + 7)
    assert progress({("t", 0): 100, ("t", 1): 50, ("u", 0): 7}, bounds) == (147, 0)


def test_progress_ignores_offsets_outside_the_partition_and_partitions_not_read() -> None:
    bounds = {("t", 0): (10, 20)}
    assert progress({("t", 0): 5}, bounds) == (0, 10)  # before the log's start: none read
    assert progress({("t", 0): 25}, bounds) == (10, 0)  # beyond a build's end: all read
    assert progress({("gone", 0): 9}, bounds) == (0, 10)


partitions = st.dictionaries(
    st.tuples(st.sampled_from("abc"), st.integers(0, 3)),
    st.tuples(st.integers(0, 1000), st.integers(0, 1000), st.integers(-5, 1100)).map(
        lambda t: (min(t[0], t[1]), max(t[0], t[1]), t[2])
    ),
)


@given(partitions)
def test_projected_and_remaining_add_up_to_the_records_of_the_partitions(
    found: dict[tuple[str, int], tuple[int, int, int]],
) -> None:
    bounds = {p: (low, end) for p, (low, end, _) in found.items()}
    stored = {p: offset for p, (_, _, offset) in found.items()}
    projected, remaining = progress(stored, bounds)
    assert projected >= 0 and remaining >= 0
    assert projected + remaining == sum(end - low for low, end in bounds.values())


def test_registering_reads_nothing_and_a_scrape_without_a_database_serves_empty_families() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = Settings.from_env(
        {"DATABASE_URL": f"postgresql://{nowhere}/fillstream", "KAFKA_BOOTSTRAP_SERVERS": nowhere}
    )
    registry = CollectorRegistry()
    collector = RebuildCollector(settings)
    registry.register(collector)  # asks describe(): no connection attempted
    assert collector._consumer is None

    started = time.monotonic()
    text = generate_latest(registry).decode()
    assert time.monotonic() - started < 5
    for name in FAMILIES:
        assert f"# TYPE {name} gauge" in text
    assert not [line for line in text.splitlines() if not line.startswith("#")]
