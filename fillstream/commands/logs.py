"""``fillstream logs [SERVICE] [-n 50] [-f]``: the end of the stack's logs, or follow them."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import IO

from core import process as _process
from core.settings import Settings
from deploy.services import SERVICES, log_path

LOGS: tuple[str, ...] = ("kafka", "postgres", *SERVICES)
_FOLLOW_INTERVAL = 0.25


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream logs",
        description="Show the last lines of a service's log (all of them without SERVICE).",
    )
    parser.add_argument(
        "service",
        nargs="?",
        choices=LOGS,
        metavar="SERVICE",
        help=f"one of {', '.join(LOGS)}; all when omitted",
    )
    parser.add_argument("-n", "--lines", type=int, default=50, help="lines to show (default 50)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    names = [args.service] if args.service else list(LOGS)
    paths = {name: log_path(settings, name) for name in names}
    for name, path in paths.items():
        if len(paths) > 1:
            print(f"==> {name} ({path}) <==")
        print(_process.tail(path, args.lines))
    if args.follow:
        _follow(paths, prefix=len(paths) > 1)
    return 0


def _follow(paths: dict[str, Path], prefix: bool) -> None:
    """Print lines appended to ``paths`` until interrupted (Ctrl-C), like ``tail -f``."""
    handles = {name: h for name, path in paths.items() if (h := _open(path, at_end=True))}
    try:
        while True:
            for name, path in paths.items():
                if name not in handles and (handle := _open(path, at_end=False)) is not None:
                    handles[name] = handle  # a log created since we started: read it all
                if name in handles:
                    for line in handles[name].readlines():
                        sys.stdout.write(f"{name:<9} | {line}" if prefix else line)
            sys.stdout.flush()
            time.sleep(_FOLLOW_INTERVAL)  # polling a file: there is no condition to wait on
    finally:
        for handle in handles.values():
            handle.close()


def _open(path: Path, at_end: bool) -> IO[str] | None:
    try:
        handle = path.open(errors="replace")
    except FileNotFoundError:
        return None
    if at_end:
        handle.seek(0, 2)
    return handle
