"""``fillstream migrate``: apply the PostgreSQL migrations (idempotent)."""

from __future__ import annotations

import argparse

from core.settings import Settings
from projections.migrate import migrate


def parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="fillstream migrate", description=__doc__)


def main(argv: list[str]) -> int:
    parser().parse_args(argv)
    settings = Settings.from_env()
    applied = migrate(settings)
    print(
        f"schema {settings.namespace}: "
        + (f"applied {', '.join(applied)}" if applied else "up to date")
    )
    return 0
