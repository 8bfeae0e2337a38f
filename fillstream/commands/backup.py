"""``fillstream backup [--output FILE]``: a dump of the projections (the namespace's PostgreSQL
schema); ``fillstream restore`` puts one back."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.settings import Settings
from deploy.backup import backup, default_path

EXAMPLES = """examples:
  fillstream backup                                a dump under FILLSTREAM_HOME/backups/
  fillstream backup --output /srv/backups/fs.dump
  fillstream restore /srv/backups/fs.dump          into an empty database
  fillstream restore /srv/backups/fs.dump --force  drop the namespace's schema first
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream backup",
        description="Dump the projections (the namespace's PostgreSQL schema) in PostgreSQL's "
        "custom format. The Kafka log is the source of truth; the dump is a head start.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="where to write the dump")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    path = backup(settings, args.output or default_path(settings))
    print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0
