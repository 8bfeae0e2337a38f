"""``fillstream down``: stop the services, then the local broker and database."""

from __future__ import annotations

import argparse

from core.settings import Settings
from fillstream import stack


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream down",
        description="Stop the bridge, worker and projector, then the local Kafka and PostgreSQL. "
        "Their data stays in FILLSTREAM_HOME; external clusters are left alone.",
    )
    return parser


def main(argv: list[str]) -> int:
    parser().parse_args(argv)
    stack.down(Settings.from_env())
    return 0
