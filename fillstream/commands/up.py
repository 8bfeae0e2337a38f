"""``fillstream up``: start the local stack, creating whatever is missing."""

from __future__ import annotations

import argparse

from core.settings import Settings
from fillstream import stack
from fillstream.commands.dashboard import login_url


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream up",
        description="Start Kafka and PostgreSQL (unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL "
        "point elsewhere), create the topics, apply the migrations and start the bridge, "
        "worker, projector, notifier and read API, and print the dashboard's login URL. "
        "Safe to run again: running parts are left alone.",
    )
    return parser


def main(argv: list[str]) -> int:
    parser().parse_args(argv)
    settings = stack.up(Settings.from_env())
    print(
        f'\nstack up: `fillstream status` to check it, `eval "$(fillstream env)"` to connect, '
        f"logs in {settings.home / 'logs'}"
    )
    print(f"dashboard: {login_url(settings)}")
    return 0
