"""``fillstream projections list|rebuild|switch|drop``: the projections' versions, blue/green
rebuilds from the log, switching the view between versions, and dropping old ones."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from control.offsets import parse_moment
from core.errors import FillstreamError
from core.health_events import publish_check, service_checked
from core.settings import Settings
from projections.listing import list_projections, render
from projections.rebuild import Outcome, by_name, drop, rebuild, switch

log = logging.getLogger("fillstream.projections")

EXAMPLES = """examples:
  fillstream projections list                          versions, rows and lag
  fillstream projections list --json                   for machines
  fillstream projections rebuild trades                build v(N+1), compare, switch
  fillstream projections rebuild trades --keep-old     keep vN beside it (instant switch back)
  fillstream projections rebuild performance --accept-diff
                                                       switch even if the numbers changed
  fillstream projections rebuild --all                 every projection, one after another
  fillstream projections rebuild trades --until 2026-11-20T21:00:00Z
                                                       trades as known then: trades_as_of_vN
  fillstream projections switch trades 1               back to a kept version
  fillstream projections drop trades 3                 drop a version that is not live
  fillstream projections archive --all --keep-months 12
                                                       months older than a year out to files
  fillstream projections unarchive trades --month 2025-06
"""


def main(argv: list[str]) -> int:
    argparser = parser()
    args = argparser.parse_args(argv)
    if args.command in ("rebuild", "archive", "unarchive") and args.all == bool(args.names):
        argparser.error(f"{args.command}: name projections or give --all")
    settings = Settings.from_env()
    if args.command == "list":
        states = list_projections(settings)
        if args.json:
            print(json.dumps([s.to_dict() for s in states], indent=2, default=str))
        else:
            print(render(states))
        return 0
    if args.command == "drop":
        (projection,) = by_name([args.name])
        drop(settings, projection, args.version)
        return 0
    if args.command in ("archive", "unarchive", "archived"):
        if args.command == "archive" and args.keep_months is not None and args.keep_months < 1:
            argparser.error(f"archive: --keep-months must be at least 1, was {args.keep_months}")
        return _archive(settings, args)
    with interruptible() as stop:
        if args.command == "switch":
            (projection,) = by_name([args.name])
            outcomes = [
                switch(
                    settings,
                    projection,
                    args.version,
                    keep_old=args.keep_old,
                    accept_diff=args.accept_diff,
                    stop=stop,
                )  # fmt: skip
            ]
        else:
            outcomes = _rebuild(settings, args, stop)
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2, default=str))
    wanted = "as_of" if getattr(args, "until", None) else "live"
    return 0 if all(o.state == wanted for o in outcomes) else 1


def _rebuild(settings: Settings, args: argparse.Namespace, stop: threading.Event) -> list[Outcome]:
    from projections import PROJECTIONS

    projections = list(PROJECTIONS) if args.all else by_name(args.names)
    until = None if args.until is None else parse_moment(args.until)
    since = None if args.since is None else parse_moment(args.since)
    outcomes = []
    for p in projections:
        started_at = datetime.now(UTC)
        try:
            outcome = rebuild(
                settings,
                p,
                keep_old=args.keep_old,
                accept_diff=args.accept_diff,
                until=until,
                since=since,
                stop=stop,
            )  # fmt: skip
        except FillstreamError as e:
            _report_rebuild(settings, p.name, started_at, failed=str(e))
            raise
        if not stop.is_set() and until is None:
            switched = outcome.state == "live"
            _report_rebuild(
                settings, p.name, started_at, failed=None if switched else "not switched"
            )
        outcomes.append(outcome)
    return outcomes


def _report_rebuild(
    settings: Settings, projection: str, started_at: datetime, *, failed: str | None
) -> None:
    """Publish how a rebuild ended as a health check of the ``rebuild`` service (figure
    ``rebuild_failed|<projection>``, 1 or 0), which the ``rebuild_failed`` alert rule reads; a
    Kafka that cannot take it is logged, not raised (the rebuild's own outcome stands)."""
    check = service_checked(
        service="rebuild",
        instance=f"{socket.gethostname()}|{projection}",
        checks={"rebuild": failed is None},
        figures={f"rebuild_failed|{projection}": 0.0 if failed is None else 1.0},
        interval_seconds=settings.health_interval_seconds,
        started_at=started_at,
        at=datetime.now(UTC),
    )
    if not publish_check(settings, check):
        log.warning("the outcome of the %s rebuild did not reach Kafka", projection)


def _archive(settings: Settings, args: argparse.Namespace) -> int:
    from core.database import connect
    from projections import PROJECTIONS
    from projections.archive import (
        archive,
        archived,
        months_back,
        parse_month,
        unarchive,
    )

    if args.command == "archived":
        with connect(settings) as conn:
            entries = archived(conn)
        for e in entries:
            print(f"{e.projection} v{e.version}  {e.month:%Y-%m}  {e.rows:>10,} rows  {e.path}")
        if not entries:
            print("no archived months")
        return 0
    names = [p.name for p in PROJECTIONS if p.partition_by] if args.all else args.names
    projections = by_name(names)
    if args.command == "archive":
        before = parse_month(args.before) if args.before else months_back(args.keep_months)
        moved = [m for p in projections
                 for m in archive(settings, p, before, directory=args.dir, say=print)]  # fmt: skip
        if not moved:
            print(f"nothing before {before:%Y-%m} to archive")
        return 0
    months = None if args.month is None else [parse_month(m) for m in args.month]
    for p in projections:
        unarchive(settings, p, months, say=print)
    return 0


@contextmanager
def interruptible() -> Iterator[threading.Event]:
    """An event Ctrl-C or SIGTERM sets, so a rebuild stops between batches with its progress
    stored (run it again to resume)."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream projections",
        description="The PostgreSQL projections of the log and their versions.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser(
        "list",
        help="each projection's versions: state, table, rows, lag",
        description="Each projection's versions (the live one first): state, table, rows, the "
        "records of its topics not projected yet, and when its projector last stored offsets.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON for machines")

    build = commands.add_parser(
        "rebuild",
        help="build the next version from the log, compare it, switch the view",
        description="Build version N+1 of each projection named from the beginning of the log "
        "under its own consumer group while version N keeps serving, with progress. Once it "
        "has caught up, N+1 is compared with N (rows, sums of the money columns, differences "
        "key by key) and the view switches to N+1 atomically when they are identical or with "
        "--accept-diff. N is then dropped, or kept with --keep-old. An interrupted rebuild "
        "resumes when run again.",
    )
    build.add_argument("names", nargs="*", metavar="NAME", help="a projection (see list)")
    build.add_argument("--all", action="store_true", help="every projection")
    build.add_argument("--keep-old", action="store_true", help="keep version N after the switch")
    build.add_argument(
        "--accept-diff", action="store_true", help="switch even when N+1 differs from N"
    )
    build.add_argument(
        "--until",
        metavar="TIME",
        help="build only from the records logged up to TIME (ISO 8601), as known then; it "
        "serves beside the live one as the view NAME_as_of_vN and never switches",
    )
    build.add_argument(
        "--from",
        dest="since",
        metavar="TIME",
        help="start from the records logged from TIME instead of the beginning of the log",
    )
    build.add_argument("--json", action="store_true", help="print the outcome as JSON")

    to = commands.add_parser(
        "switch",
        help="point the view at another version (behind the same comparison)",
        description="Catch version VERSION up with the log, compare it with the live version "
        "and point the view at it when identical or with --accept-diff.",
    )
    to.add_argument("name", metavar="NAME")
    to.add_argument("version", type=int, metavar="VERSION")
    to.add_argument("--keep-old", action="store_true", help="keep the version switched from")
    to.add_argument("--accept-diff", action="store_true", help="switch even when they differ")
    to.add_argument("--json", action="store_true", help="print the outcome as JSON")

    gone = commands.add_parser("drop", help="drop a version that is not live")
    gone.add_argument("name", metavar="NAME")
    gone.add_argument("version", type=int, metavar="VERSION")

    out = commands.add_parser(
        "archive",
        help="move old months of a partitioned projection out to files",
        description="Move each month of the live version of the projections named (trades, "
        "executions, market_bars are partitioned by month, UTC) that ends before a month out to "
        "a gzipped CSV file and drop its partition; `unarchive` brings it back. The log stays "
        "the source of truth.",
    )
    out.add_argument("names", nargs="*", metavar="NAME")
    out.add_argument("--all", action="store_true", help="every partitioned projection")
    when = out.add_mutually_exclusive_group(required=True)
    when.add_argument("--before", metavar="YYYY-MM", help="months before this one")
    when.add_argument("--keep-months", type=int, metavar="N", help="keep the last N months")
    out.add_argument(
        "--dir", type=Path, metavar="DIR", help="where the files go (FILLSTREAM_HOME/archive)"
    )
    back = commands.add_parser("unarchive", help="load archived months back")
    back.add_argument("names", nargs="*", metavar="NAME")
    back.add_argument("--all", action="store_true", help="every partitioned projection")
    back.add_argument(
        "--month", action="append", metavar="YYYY-MM", help="only this month (repeatable)"
    )
    commands.add_parser("archived", help="the months archived, with their files")
    return parser
