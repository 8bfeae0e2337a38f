"""A large Executions export read in parts, by worker processes, as if it were read whole.

A part is the file's header followed by whole rows: it ends at a line end outside quotes, so
each part is a grid export of its own and its rows keep their lines in the file. Workers parse
and encode the parts (``parsed.encoded``); the parts are joined in file order.

The date order and the decimal mark are settled for the whole file, as a whole-file read would
settle them: a file is day-first when any part saw a date above 12 in its first field, and its
mark is the one most of all parts' numbers use. A part that was read under another order or mark
than the file's is read again under the file's.

Executions only: the ids of reported trades number identical trades through the whole file.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bridge.imports.executions import parse_executions
from bridge.imports.formats import DateOrder, MarkEvidence
from bridge.imports.grid import EXECUTION_COLUMNS, Progress, read_grid
from bridge.imports.parsed import Parsed, encoded, joined
from core.settings import Settings
from schemas.codec import Codec, default_codec

PART_SIZE = 1 << 19
"""Characters per part (about 4,000 rows of a typical export)."""
PARALLEL_FROM = 1 << 21
"""Characters of exports below which reading in parts does not pay for starting the workers."""
MAX_WORKERS = 8


def default_workers() -> int:
    """The processors this process may run on, at most ``MAX_WORKERS``."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_WORKERS))


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    """The file's header line, then the part's rows."""
    line_offset: int
    """Lines between the header and the part's first row (``read_grid``'s ``line_offset``)."""


def split(text: str, size: int = PART_SIZE) -> list[Part]:
    """The rows of ``text`` in parts of at least ``size`` characters (the last may be shorter).

    A part ends at a ``\\n`` outside quotes (an even number of ``"`` since the part's start; a
    quote inside an unquoted cell would make parts longer, never wrong for NinjaTrader's
    exports, which quote whole cells only). Text with a lone ``\\r`` line end is one part: its
    lines would be counted differently. Text of a header alone has no parts.
    """
    if text.count("\r") != text.count("\r\n"):
        return [Part(text, 0)]
    header_end = _line_end(text, 0, 0)
    if header_end < 0:
        return []
    header = text[: header_end + 1]
    parts: list[Part] = []
    start, lines_before = header_end + 1, 0
    while start < len(text):
        end = _line_end(text, start, size)
        stop = len(text) if end < 0 else end + 1
        body = text[start:stop]
        if body.strip():
            parts.append(Part(header + body, lines_before))
        lines_before += body.count("\n")
        start = stop
    return parts


def _line_end(text: str, start: int, size: int) -> int:
    """The first ``\\n`` at or past ``start + size`` outside quotes opened since ``start``."""
    end = text.find("\n", start + size)
    while end >= 0 and text.count('"', start, end) % 2:
        end = text.find("\n", end + 1)
    return end


_worker: tuple[Settings, Codec] | None = None


def _start_worker(settings: Settings) -> None:
    global _worker
    _worker = (settings, default_codec())


def _ready() -> None:
    """A job that does nothing: submitting it starts the workers."""


def _read_part(
    part: Part, tz: tzinfo, ts_ingested: datetime, order: DateOrder, mark: str | None
) -> Parsed:
    assert _worker is not None
    settings, codec = _worker
    result = parse_executions(
        part.text,
        tz=tz,
        ts_ingested=ts_ingested,
        date_order=order,
        decimal_mark=mark,
        line_offset=part.line_offset,
    )
    return encoded(result, settings, codec)


class PartReader:
    """Worker processes that parse and encode the parts of Executions exports.

    The workers are forked when it is made: make it before the import starts any thread (a
    forked process has only the thread that forked it; librdkafka's would be missing).
    """

    def __init__(self, settings: Settings, workers: int) -> None:
        gc.freeze()  # the workers' collector leaves what they inherit alone: no pages copied
        try:
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(settings,),
            )
            self._pool.submit(_ready).result()
        finally:
            gc.unfreeze()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> PartReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def read(
        self,
        text: str,
        *,
        tz: tzinfo,
        ts_ingested: datetime,
        date_order: DateOrder = DateOrder.AUTO,
        progress: Progress | None = None,
        part_size: int | None = None,
    ) -> Parsed | None:
        """An Executions export read in parts; None when it has no rows (read it whole).

        Raises ``UnrecognizedHeaderError`` as ``parse_executions`` does.
        """
        parts = split(text, PART_SIZE if part_size is None else part_size)
        if not parts:
            return None
        read_grid(parts[0].text.split("\n", 1)[0], EXECUTION_COLUMNS, "Executions")  # the header
        expected = max(text.count("\n") - 1, 1)
        results = self._gather(
            [self._submit(p, tz, ts_ingested, date_order, None) for p in parts],
            expected,
            progress,
        )
        order = _settled_order(date_order, results)
        mark = sum((r.mark_evidence for r in results), MarkEvidence()).mark
        again = [
            i for i, r in enumerate(results) if r.date_order is not order or r.decimal_mark != mark
        ]
        redone = self._gather(
            [self._submit(parts[i], tz, ts_ingested, order, mark) for i in again], 0, None
        )
        for i, result in zip(again, redone, strict=True):
            results[i] = result
        return joined(results)

    def _submit(
        self, part: Part, tz: tzinfo, ts_ingested: datetime, order: DateOrder, mark: str | None
    ) -> Future[Parsed]:
        return self._pool.submit(_read_part, part, tz, ts_ingested, order, mark)

    @staticmethod
    def _gather(
        futures: list[Future[Parsed]], expected: int, progress: Progress | None
    ) -> list[Parsed]:
        results: list[Parsed] = []
        done = 0
        for future in futures:
            results.append(future.result())
            done += results[-1].rows
            if progress is not None:
                progress(done, max(expected, done) if future is not futures[-1] else done)
        return results


def _settled_order(requested: DateOrder, results: list[Parsed]) -> DateOrder:
    """The requested order, or for ``auto`` the whole file's (day-first if any part is)."""
    if requested is not DateOrder.AUTO:
        return requested
    if any(r.date_order is DateOrder.DAY_FIRST for r in results):
        return DateOrder.DAY_FIRST
    return DateOrder.MONTH_FIRST
