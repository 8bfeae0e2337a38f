"""The disk spool: ordered, durable, whole batches, and honest about damage."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import SpoolCorruptError
from bridge.spool import Spool, SpoolRecord


def record(n: int, topic: str = "fillstream.raw.executions") -> SpoolRecord:
    return SpoolRecord(
        topic, f"Sim101|NQ {n % 3}".encode(), f"value-{n}".encode(), (("schema", b"x"),)
    )


def drain(spool: Spool) -> list[SpoolRecord]:
    out: list[SpoolRecord] = []
    while (frame := spool.peek()) is not None:
        out.extend(frame.records)
        spool.commit(frame)
    return out


def test_batches_come_back_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(0), record(1)])
    spool.append([record(2)])
    assert spool.depth == 3 and not spool.is_empty()
    first = spool.peek()
    assert first is not None and first.records == (record(0), record(1))
    spool.commit(first)

    reopened = Spool(tmp_path)  # as after a restart: only the uncommitted batch is left
    assert reopened.depth == 1
    assert drain(reopened) == [record(2)]
    assert Spool(tmp_path).is_empty()


def test_a_torn_tail_is_cut_off_and_earlier_batches_survive(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(0)])
    spool.append([record(1), record(2)])
    (segment,) = tmp_path.glob("*.spool")
    size = segment.stat().st_size
    with segment.open("ab") as f:  # a crash in the middle of writing the next batch
        f.write(b"\x00\x00\x01\x00garbage")
    reopened = Spool(tmp_path)
    assert segment.stat().st_size == size
    reopened.append([record(3)])
    assert drain(Spool(tmp_path)) == [record(0), record(1), record(2), record(3)]


def test_a_half_written_batch_is_dropped_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(0)])
    (segment,) = tmp_path.glob("*.spool")
    good = segment.stat().st_size
    spool.append([record(1), record(2), record(3)])
    with segment.open("r+b") as f:
        f.truncate(good + 20)  # the second batch only partly reached the disk
    assert drain(Spool(tmp_path)) == [record(0)]


def test_damage_before_the_last_segment_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=64)
    for n in range(4):
        spool.append([record(n)])
    segments = sorted(tmp_path.glob("*.spool"))
    assert len(segments) == 4
    data = bytearray(segments[1].read_bytes())
    data[-1] ^= 0xFF
    segments[1].write_bytes(bytes(data))
    with pytest.raises(SpoolCorruptError, match="damaged"):
        Spool(tmp_path, segment_bytes=64)


def test_delivered_segments_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=64)
    for n in range(5):
        spool.append([record(n)])
    assert len(list(tmp_path.glob("*.spool"))) == 5
    assert drain(spool) == [record(n) for n in range(5)]
    assert len(list(tmp_path.glob("*.spool"))) <= 1
    assert spool.size_bytes == 0


records = st.builds(
    SpoolRecord,
    st.text(min_size=1, max_size=20),
    st.binary(max_size=50),
    st.binary(max_size=200),
    st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=10)), max_size=3).map(tuple),
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(records, min_size=1, max_size=4)),
        st.tuples(st.just("commit"), st.none()),
        st.tuples(st.just("reopen"), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(actions=actions, segment_bytes=st.sampled_from([64, 512, 1 << 20]))
def test_the_spool_behaves_like_a_queue_of_batches(
    tmp_path_factory: pytest.TempPathFactory, actions: list[tuple[str, list[SpoolRecord] | None]],
    segment_bytes: int,
) -> None:  # fmt: skip
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory, segment_bytes=segment_bytes)
    model: list[list[SpoolRecord]] = []
    for action, batch in actions:
        if action == "append" and batch is not None:
            spool.append(batch)
            model.append(batch)
        elif action == "commit" and model:
            frame = spool.peek()
            assert frame is not None and list(frame.records) == model.pop(0)
            spool.commit(frame)
        elif action == "reopen":
            spool = Spool(directory, segment_bytes=segment_bytes)
        assert spool.depth == sum(len(b) for b in model)
    assert drain(spool) == [r for batch in model for r in batch]
