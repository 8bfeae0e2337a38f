"""A durable, ordered, on-disk queue of Kafka records for when Kafka is unreachable.

Each accepted request becomes one *batch frame* appended to the active segment file and fsync'd
before the bridge answers, so a batch is stored whole or not at all: a crash in the middle of a
write leaves a torn frame at the tail, which the next open cuts off (it was never acknowledged).
Frames are read back in the order they were written; ``commit`` durably moves the read cursor past
a frame once Kafka acknowledged all its records, and deletes segments that are fully read.

Frame: ``length (u32) | crc32 of payload (u32) | payload``; payload: ``count (u32)`` then, per
record, ``topic (u16 len + utf-8) | key (u32 len) | value (u32 len) | headers (u16 count, each
u16 name len + name, u32 value len + value)``. All integers big-endian.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import SpoolCorruptError, SpoolMisuseError

_FRAME_HEADER = struct.Struct(">II")
_SEGMENT_SUFFIX = ".spool"
_CURSOR = "cursor.json"
MAX_FRAME_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a frame starts: segment number and byte offset in it."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Frame:
    start: Position
    end: Position
    records: tuple[SpoolRecord, ...]


class Spool:
    """Thread-safe: the HTTP handlers append while the drainer reads and commits."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cursor = self._read_cursor()
        self._frames = self._recover()
        self._bytes = sum(f.end.offset - f.start.offset for f in self._frames)
        self._records = sum(len(f.records) for f in self._frames)
        self._tail = self._frames[-1].end if self._frames else self._cursor
        if self._tail.offset >= self.segment_bytes:
            self._tail = Position(self._tail.segment + 1, 0)

    # -- writing -----------------------------------------------------------------------------

    def append(self, records: Sequence[SpoolRecord]) -> None:
        """Store a batch durably (fsync'd) as one frame; returns only once it is on disk."""
        payload = _encode(records)
        if len(payload) > MAX_FRAME_BYTES:
            raise SpoolMisuseError(
                f"spool: a batch of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}"
            )
        frame = _FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            start = self._tail
            path = self._segment_path(start.segment)
            new_file = not path.exists()
            with path.open("ab") as f:
                f.write(frame)
                f.flush()
                os.fsync(f.fileno())
            if new_file:
                _fsync_directory(self.directory)
            end = Position(start.segment, start.offset + len(frame))
            self._frames.append(Frame(start, end, tuple(records)))
            self._bytes += len(frame)
            self._records += len(records)
            self._tail = end if end.offset < self.segment_bytes else Position(end.segment + 1, 0)

    # -- reading -----------------------------------------------------------------------------

    def peek(self) -> Frame | None:
        """The oldest frame not yet committed, or None when the spool is empty."""
        with self._lock:
            return self._frames[0] if self._frames else None

    def commit(self, frame: Frame) -> None:
        """Durably mark ``frame`` as delivered; drop segments that hold nothing unread."""
        with self._lock:
            if not self._frames or self._frames[0] != frame:
                raise SpoolMisuseError("spool: commit out of order")
            self._frames.pop(0)
            self._bytes -= frame.end.offset - frame.start.offset
            self._records -= len(frame.records)
            self._cursor = frame.end
            self._write_cursor(frame.end)
            for segment in self._segments():
                if segment < frame.end.segment:
                    self._segment_path(segment).unlink(missing_ok=True)

    def is_empty(self) -> bool:
        with self._lock:
            return not self._frames

    @property
    def depth(self) -> int:
        """Records waiting to be delivered."""
        return self._records

    @property
    def size_bytes(self) -> int:
        return self._bytes

    # -- files -------------------------------------------------------------------------------

    def _segment_path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SEGMENT_SUFFIX}"

    def _segments(self) -> list[int]:
        names = (
            p.name.removesuffix(_SEGMENT_SUFFIX) for p in self.directory.glob(f"*{_SEGMENT_SUFFIX}")
        )
        return sorted(int(name) for name in names)

    def _read_cursor(self) -> Position:
        try:
            data = json.loads((self.directory / _CURSOR).read_text())
            return Position(int(data["segment"]), int(data["offset"]))
        except FileNotFoundError:
            segments = self._segments()
            return Position(segments[0] if segments else 0, 0)
        except (ValueError, KeyError, TypeError) as e:
            raise SpoolCorruptError(
                f"spool: cursor file {self.directory / _CURSOR} is unreadable: {e}"
            ) from e

    def _write_cursor(self, position: Position) -> None:
        tmp = self.directory / (_CURSOR + ".tmp")
        with tmp.open("w") as f:
            json.dump({"segment": position.segment, "offset": position.offset}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / _CURSOR)
        _fsync_directory(self.directory)

    def _recover(self) -> list[Frame]:
        """Frames after the cursor; a torn frame at the very end is cut off."""
        frames: list[Frame] = []
        segments = [s for s in self._segments() if s >= self._cursor.segment]
        for index, segment in enumerate(segments):
            path = self._segment_path(segment)
            data = path.read_bytes()
            offset = self._cursor.offset if segment == self._cursor.segment else 0
            last = index == len(segments) - 1
            while offset < len(data):
                parsed = _parse_frame(data, offset)
                if parsed is None:
                    if not last:
                        raise SpoolCorruptError(f"spool: {path} is damaged at byte {offset}")
                    with path.open("r+b") as f:  # the unacknowledged tail of a crashed write
                        f.truncate(offset)
                        os.fsync(f.fileno())
                    break
                records, size = parsed
                frames.append(
                    Frame(Position(segment, offset), Position(segment, offset + size), records)
                )
                offset += size
        return frames


def _parse_frame(data: bytes, offset: int) -> tuple[tuple[SpoolRecord, ...], int] | None:
    if offset + _FRAME_HEADER.size > len(data):
        return None
    length, crc = _FRAME_HEADER.unpack_from(data, offset)
    start = offset + _FRAME_HEADER.size
    payload = data[start : start + length]
    if len(payload) < length or zlib.crc32(payload) != crc:
        return None
    return _decode(payload), _FRAME_HEADER.size + length


def _encode(records: Sequence[SpoolRecord]) -> bytes:
    parts = [struct.pack(">I", len(records))]
    for r in records:
        topic = r.topic.encode()
        parts += [struct.pack(">H", len(topic)), topic, struct.pack(">I", len(r.key)), r.key]
        parts += [struct.pack(">I", len(r.value)), r.value, struct.pack(">H", len(r.headers))]
        for name, value in r.headers:
            encoded = name.encode()
            parts += [
                struct.pack(">H", len(encoded)),
                encoded,
                struct.pack(">I", len(value)),
                value,
            ]
    return b"".join(parts)


def _decode(payload: bytes) -> tuple[SpoolRecord, ...]:
    view = memoryview(payload)
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from(fmt, view, pos)
        pos += struct.calcsize(fmt)
        return int(value)

    def take_bytes(n: int) -> bytes:
        nonlocal pos
        chunk = bytes(view[pos : pos + n])
        pos += n
        return chunk

    records = []
    for _ in range(take(">I")):
        topic = take_bytes(take(">H")).decode()
        key = take_bytes(take(">I"))
        value = take_bytes(take(">I"))
        headers = tuple(
            (take_bytes(take(">H")).decode(), take_bytes(take(">I"))) for _ in range(take(">H"))
        )
        records.append(SpoolRecord(topic, key, value, headers))
    return tuple(records)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
