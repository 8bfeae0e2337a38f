"""``fillstream import``: publish NinjaTrader 8 Executions or Trades grid exports.

Every file is read and checked before anything is published: an instrument whose root has no
contract specification (neither in the built-in table nor defined in ``raw.instruments``)
refuses the whole import, naming the ``fillstream instruments add`` command. Events already
in the target topic (same event id) are skipped, so re-importing a file, or importing fills that
were also sent live, adds nothing twice. The target topic's event ids are read while the files
are parsed: one waits on Kafka, the other computes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.errors import ImportFileError, MissingTopicError, UnrecognizedHeaderError
from bridge.imports import DateOrder, parse_executions, parse_trades, reconcile
from bridge.imports.instruments import contract_book, read_definitions
from bridge.imports.kafka import LogContents, publish, read_event_ids
from bridge.imports.outcome import FileResult, ImportedEvent, Outcome
from bridge.imports.parsed import encoded
from bridge.imports.parts import PARALLEL_FROM, PartReader, can_fork, default_workers
from bridge.imports.report import render_text, to_json
from bridge.spool import SpoolRecord
from core.kafka import ensure_topics
from core.progress import ProgressLine
from core.settings import Settings
from domain.contracts import ContractBook, root_of
from domain.errors import add_command
from schemas.catalog import RAW_EXECUTIONS, RAW_NT_TRADES
from schemas.codec import Codec, default_codec
from schemas.events import ExecutionReported, TradeReported

DEFAULT_TZ = "America/New_York"
EXIT_REFUSED = 1
EXIT_RECONCILIATION_DIFFERS = 3

_TOPICS = {"executions": RAW_EXECUTIONS, "trades": RAW_NT_TRADES}
_EPILOG = f"""\
Times in the exports carry no offset: they are in NinjaTrader's platform time zone, given
with --tz (default {DEFAULT_TZ}). Exit status: 0 done; 1 rejected rows without
--skip-invalid (nothing published; a dry run says so too), an instrument root without a
contract specification (nothing published; see `fillstream instruments`), or a failure (on a
Kafka failure
part may be published: re-running is safe); 2 usage; {EXIT_RECONCILIATION_DIFFERS} the
reconciliation found differences (the import itself is done).
"""


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings if settings is not None else Settings.from_env()
    ts_ingested = datetime.now(UTC)
    with _part_reader(args, settings) as parts:  # first: its workers fork before any thread
        log = None if args.dry_run else _LogReader(settings, args.kind, default_codec())
        read = [_read(args.kind, path, args, ts_ingested, settings, parts) for path in args.files]
    files = tuple(f for f, _ in read)
    outcome = Outcome(
        kind=args.kind,
        topic=settings.topic(_TOPICS[args.kind]),
        tz=args.tz.key,
        files=files,
        dry_run=args.dry_run,
        refused=bool(any(f.parsed.rejected for f in files) and not args.skip_invalid),
    )
    contracts: ContractBook | None = None  # a dry run checks nothing against the log
    if log is not None:
        contracts = contract_book(read_definitions(settings, default_codec()))
        unknown = [] if outcome.refused else _unknown_roots(files, contracts)
        if unknown:
            log.join()  # let it finish and close its Kafka client; nothing is published
            print("\n".join(unknown), file=sys.stderr)
            return EXIT_REFUSED
    if getattr(args, "reconcile", None) is not None:
        executions = [e for _, events in read for e in events]
        outcome = _reconcile(outcome, args, ts_ingested, settings, executions, contracts)
    if log is not None and not outcome.refused:
        outcome = _publish(outcome, settings, log.contents())
    print(json.dumps(to_json(outcome), indent=2) if args.json else render_text(outcome))
    if outcome.refused:
        return EXIT_REFUSED
    if outcome.reconciliation is not None and not outcome.reconciliation.ok:
        return EXIT_RECONCILIATION_DIFFERS
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream import",
        description="Import NinjaTrader 8 Executions or Trades grid exports (CSV).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="{executions,trades}")
    for kind, what in (
        ("executions", "Executions grid exports → raw.executions (ExecutionReported)"),
        ("trades", "Trades grid exports → raw.nt-trades (TradeReported)"),
    ):
        sub = kinds.add_parser(
            kind,
            help=what,
            description=what,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("files", nargs="+", metavar="FILE", help="a grid export (.csv)")
        sub.add_argument(
            "--tz",
            type=_zone,
            default=_zone(DEFAULT_TZ),
            help=f"time zone of the export's times (default {DEFAULT_TZ})",
        )
        sub.add_argument(
            "--date-order",
            type=DateOrder,
            choices=list(DateOrder),
            default=DateOrder.AUTO,
            help="auto: day-first if any date starts above 12, else month-first (default auto)",
        )
        sub.add_argument("--dry-run", action="store_true", help="show what would be published")
        sub.add_argument(
            "--skip-invalid",
            action="store_true",
            help="publish the valid rows even if some are rejected (they are listed)",
        )
        sub.add_argument("--json", action="store_true", help="print a JSON document")
        sub.add_argument(
            "--workers",
            type=_workers,
            default=default_workers(),
            metavar="N",
            help="processes reading a large Executions export in parts "
            "(default: the processors available, at most 8; 1 reads in this process)",
        )
        if kind == "executions":
            sub.add_argument(
                "--reconcile",
                metavar="TRADES.csv",
                help="compare the trades derived from these executions with a Trades export",
            )
    return parser


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64, was {text!r}")
    return workers


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {name!r} (an IANA name like America/Chicago)"
        ) from None


def _part_reader(
    args: argparse.Namespace, settings: Settings
) -> PartReader | contextlib.nullcontext[None]:
    """Worker processes, when reading Executions exports in parts pays: large files, more than
    one processor, and no ``--reconcile`` (which needs every event in this process)."""
    large = sum(_size(path) for path in args.files) >= PARALLEL_FROM
    simple = args.kind == "executions" and getattr(args, "reconcile", None) is None
    if large and simple and args.workers > 1 and can_fork():
        return PartReader(settings, args.workers)
    return contextlib.nullcontext()


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0  # reported when the file is read


def _read(
    kind: str,
    path: str,
    args: argparse.Namespace,
    ts_ingested: datetime,
    settings: Settings,
    parts: PartReader | None = None,
) -> tuple[FileResult, tuple[ImportedEvent, ...]]:
    """A file parsed and encoded, and its events when it was parsed in this process."""
    text = _text(path)
    parse = parse_executions if kind == "executions" else parse_trades
    progress = ProgressLine(f"reading {Path(path).name}")
    try:
        if parts is not None and len(text) >= PARALLEL_FROM:
            parsed = parts.read(
                text,
                tz=args.tz,
                ts_ingested=ts_ingested,
                date_order=args.date_order,
                progress=progress,
            )
            if parsed is not None:
                return FileResult(path=path, parsed=parsed), ()
        result = parse(
            text, tz=args.tz, ts_ingested=ts_ingested, date_order=args.date_order, progress=progress
        )
    except UnrecognizedHeaderError as e:
        raise ImportFileError(path, str(e)) from e
    finally:
        progress.close()
    parsed = encoded(result, settings, default_codec())
    return FileResult(path=path, parsed=parsed), result.events


def _text(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImportFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ImportFileError(path, "is a directory, not a grid export (.csv)") from None
    except OSError as e:
        raise ImportFileError(path, f"cannot be read ({e.strerror})") from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # Windows' ANSI code page


def _reconcile(
    outcome: Outcome,
    args: argparse.Namespace,
    ts_ingested: datetime,
    settings: Settings,
    executions: list[ImportedEvent],
    contracts: ContractBook | None,
) -> Outcome:
    trades, reported = _read("trades", args.reconcile, args, ts_ingested, settings)
    rec = reconcile(
        [e for e in executions if isinstance(e, ExecutionReported)],
        [t for t in reported if isinstance(t, TradeReported)],
        contracts,
    )
    return replace(outcome, reconciliation=rec, reconciled_with=trades)


def _unknown_roots(files: Sequence[FileResult], contracts: ContractBook) -> list[str]:
    """One line per root of the files' instruments that has no contract specification (neither
    built in nor defined in the log), naming the command that defines it."""
    rows: dict[str, list[str]] = {}
    for f in files:
        for instrument in f.parsed.instruments:
            rows.setdefault(root_of(instrument), []).append(instrument)
    return [
        f"fillstream import: no contract specification for root {root!r} "
        f"({len(rows[root])} rows, e.g. {rows[root][0]!r}); nothing was published; "
        f"define it with `{add_command(root)}`, then import again"
        for root in contracts.unknown_roots(rows)
    ]


def _new_records(files: Sequence[FileResult], log: LogContents) -> tuple[list[SpoolRecord], int]:
    """The records of events not in the log, each event once (its first row); and how many
    distinct events the files hold."""
    seen: set[str] = set()
    new: list[SpoolRecord] = []
    in_log = log.event_ids
    for f in files:
        for event_id, record in f.parsed.records():
            if event_id not in seen:
                seen.add(event_id)
                if event_id not in in_log:
                    new.append(record)
    return new, len(seen)


class _LogReader(threading.Thread):
    """Reads the event ids already in the target topic (creating the catalog's topics when it
    does not exist), in the background from the start; ``contents()`` waits for it, showing its
    progress."""

    def __init__(self, settings: Settings, kind: str, codec: Codec) -> None:
        super().__init__(name="import-log-reader", daemon=True)
        self._settings = settings
        self._topic = _TOPICS[kind]
        self._codec = codec
        self._count = (0, 0)
        self._result: LogContents | None = None
        self._error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            try:
                self._result = self._read()
            except MissingTopicError:  # a first import needs no `up`: create the catalog's topics
                ensure_topics(self._settings)
                self._result = self._read()
        except Exception as e:  # raised again in the caller's thread by contents()
            self._error = e

    def _read(self) -> LogContents:
        return read_event_ids(self._settings, self._topic, self._codec, progress=self._counted)

    def _counted(self, done: int, total: int) -> None:
        self._count = (done, total)

    def contents(self) -> LogContents:
        progress = ProgressLine(f"reading {self._settings.topic(self._topic)}", "records")
        try:
            while self.is_alive():
                if self._count != (0, 0):  # reading has begun (Kafka answered)
                    progress(*self._count)
                self.join(0.1)
        finally:
            progress.close()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def _publish(outcome: Outcome, settings: Settings, log: LogContents) -> Outcome:
    new, unique = _new_records(outcome.files, log)
    if log.undecodable:
        print(
            f"note: {log.undecodable} records in {log.topic} could not be decoded and were "
            "left out of the duplicate check",
            file=sys.stderr,
        )
    if new:
        progress = ProgressLine(f"publishing to {outcome.topic}", "events")
        try:
            publish(settings, new, progress=progress)
        finally:
            progress.close()
    return replace(
        outcome,
        new=len(new),
        already_in_log=unique - len(new),
        published=len(new),
    )
