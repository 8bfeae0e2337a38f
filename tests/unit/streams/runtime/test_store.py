"""The local state store: a prefix of a changelog partition, trusted only when it can be."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.runtime.store import TRUST, LocalStore

TOPIC = "ns.streams-books-changelog"


def compacted(entries: list[tuple[bytes, int, bytes]]) -> dict[bytes, bytes]:
    kept: dict[bytes, bytes] = {}
    for key, _, value in entries:
        if value:
            kept[key] = value
        else:
            kept.pop(key, None)
    return kept


@settings(max_examples=40)
@given(
    writes=st.lists(
        st.tuples(st.sampled_from([b"a", b"b", b"c", b"d"]), st.sampled_from([b"", b"1", b"22"])),
        max_size=30,
    ),
    cuts=st.sets(st.integers(0, 30)),
)
def test_batches_applied_in_turn_load_as_the_compacted_changelog(
    writes: list[tuple[bytes, bytes]], cuts: set[int]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        loaded_as_compacted(LocalStore(Path(directory)), writes, cuts)


def loaded_as_compacted(
    store: LocalStore, writes: list[tuple[bytes, bytes]], cuts: set[int]
) -> None:
    entries = [(k, n, v) for n, (k, v) in enumerate(writes)]
    bounds = sorted({0, len(entries), *(c for c in cuts if c < len(entries))})
    for start, end in zip(bounds, bounds[1:], strict=False):
        store.apply(0, TOPIC, entries[start:end], end)
    loaded, next_offset = store.load(0, TOPIC, 0, len(entries) + 1)
    if not entries:
        assert (loaded, next_offset) == ([], 0)
        return
    assert next_offset == len(entries)
    assert {k: v for k, _, v in loaded} == compacted(entries)
    assert [o for _, o, _ in loaded] == sorted(o for _, o, _ in loaded)  # offset order


def test_partitions_are_kept_apart(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.apply(0, TOPIC, [(b"k", 0, b"zero")], 1)
    store.apply(2, TOPIC, [(b"k", 5, b"two")], 6)
    assert store.load(0, TOPIC, 0, 10) == ([(b"k", 0, b"zero")], 1)
    assert store.load(2, TOPIC, 0, 10) == ([(b"k", 5, b"two")], 6)
    assert store.load(1, TOPIC, 3, 10) == ([], 3)


def test_a_store_it_cannot_trust_is_emptied_and_the_changelog_read_from_its_start(
    tmp_path: Path,
) -> None:
    clock = [1_000_000.0]
    store = LocalStore(tmp_path, now=lambda: clock[0])

    def written() -> None:
        store.apply(0, TOPIC, [(b"k", 40, b"v")], 41)

    written()
    assert store.load(0, TOPIC, 0, 50) == ([(b"k", 40, b"v")], 41)
    # the records after it were deleted from the changelog
    assert store.load(0, TOPIC, 42, 50) == ([], 42)
    assert store.load(0, TOPIC, 0, 50) == ([], 0)  # and it was emptied
    # the changelog was recreated: it ends before the store does
    written()
    assert store.load(0, TOPIC, 0, 10) == ([], 0)
    # another topic's store
    written()
    assert store.load(0, "other.streams-books-changelog", 0, 50) == ([], 0)
    # written too long ago: a tombstone since may have been compacted away
    written()
    clock[0] += TRUST + 1
    assert store.load(0, TOPIC, 0, 50) == ([], 0)


def test_a_damaged_file_is_read_from_the_changelog_instead(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.apply(0, TOPIC, [(b"k", 0, b"v")], 1)
    store.close()  # the worker stops; the file is damaged before it starts again
    (tmp_path / "0.sqlite").write_bytes(b"not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"0.sqlite{suffix}").unlink(missing_ok=True)
    store = LocalStore(tmp_path)
    assert store.load(0, TOPIC, 0, 5) == ([], 0)
    store.apply(0, TOPIC, [(b"k", 3, b"w")], 4)  # and it works again afterwards
    assert store.load(0, TOPIC, 0, 5) == ([(b"k", 3, b"w")], 4)
