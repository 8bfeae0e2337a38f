"""``fillstream worker``: run the stream worker in the foreground: the Faust app (matching) and
the transactional derivation stages (performance), until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

import faust

from fillstream.settings import Settings
from schemas.catalog import ensure_topics
from schemas.codec import default_codec
from streams.app import create_app
from streams.deriver import Deriver, Stage
from streams.performance_stages import ScopeTrades, ScoreTrades

_FAUST_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}

log = logging.getLogger("fillstream.streams")


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="fillstream worker", description=__doc__).parse_args(argv)
    settings = Settings.from_env()
    ensure_topics(settings)  # Faust must find the source topics with the catalog's partitions
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=_FAUST_LEVELS[settings.log_level], quiet=True)
    codec = default_codec()
    stages: list[Stage] = [ScopeTrades(codec), ScoreTrades.from_settings(settings, codec)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_run, args=(Deriver(settings, s), stop), name=s.name, daemon=True)
        for s in stages
    ]
    for thread in threads:
        thread.start()
    try:
        worker.execute_from_commandline()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    return 0


def _run(deriver: Deriver, stop: threading.Event) -> None:
    try:
        deriver.run(stop)
    except Exception:
        # a stage that cannot go on must not leave the worker running without it
        log.exception("derivation stage %s failed; stopping the worker", deriver.stage.name)
        os.kill(os.getpid(), signal.SIGTERM)
