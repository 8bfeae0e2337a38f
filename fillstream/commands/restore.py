"""``fillstream restore FILE [--force]``: restore a dump made by ``fillstream backup``; the
projectors then catch up with the log from the offsets stored in it."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.settings import Settings
from deploy.backup import restore
from fillstream.commands.backup import EXAMPLES
from projections.migrate import migrate


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream restore",
        description="Restore a dump made by `fillstream backup`, then apply newer migrations. "
        "Start the projectors afterwards (fillstream up): each resumes from the offsets in the "
        "dump and catches up with the log.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--force", action="store_true", help="drop the namespace's schema first if it exists"
    )
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    restore(settings, args.file, force=args.force)
    applied = migrate(settings)
    print(f"restored {args.file} into schema {settings.namespace}"
          + (f"; then applied {', '.join(applied)}" if applied else ""))  # fmt: skip
    return 0
