"""``fillstream worker``: run the stream worker (Faust) in the foreground."""

from __future__ import annotations

import argparse

import faust

from fillstream.settings import Settings
from schemas.catalog import ensure_topics
from streams.app import create_app

_FAUST_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="fillstream worker", description=__doc__).parse_args(argv)
    settings = Settings.from_env()
    ensure_topics(settings)  # Faust must find the source topics with the catalog's partitions
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=_FAUST_LEVELS[settings.log_level], quiet=True)
    worker.execute_from_commandline()
    return 0
