"""``fillstream bridge``: run the ingest HTTP server in the foreground."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import threading

from prometheus_client import REGISTRY

from bridge.experiments import ExperimentFollower
from bridge.gate import Gate
from bridge.gate_config import load_rules
from bridge.metrics import feed_monitor
from bridge.publisher import Publisher
from bridge.server import create_app
from bridge.spool import Spool
from bridge.tls import HOST_SETTING, listening, server_context
from core.health_events import bridge_figures
from core.service import Daemon
from domain.gate import Rules
from fillstream.web import run_until_stopped
from schemas.codec import default_codec

_DRAIN_SECONDS = 3.0
"""How long requests in flight have to finish once the bridge stops (a batch is durable, or
refused, within the ack timeout)."""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream bridge", description=__doc__)
    parser.add_argument(
        "--host",
        help="address to bind (default FILLSTREAM_BRIDGE_HOST or 127.0.0.1); other than loopback "
        "only with TLS (FILLSTREAM_BRIDGE_TLS_CERT and FILLSTREAM_BRIDGE_TLS_KEY)",
    )
    parser.add_argument("--port", type=int, help="port (default FILLSTREAM_BRIDGE_PORT or 8787)")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    # the event loop answers decisions in milliseconds: let it take the interpreter back from the
    # follower threads sooner than the default 5 ms
    sys.setswitchinterval(0.0005)
    daemon = Daemon("bridge")
    settings = daemon.settings
    settings.require_token()
    rules = Rules() if settings.gate_rules is None else load_rules(settings.gate_rules)
    host = args.host or settings.bridge_host
    port = args.port or settings.bridge_port
    tls = server_context(settings, host, "--host" if args.host else HOST_SETTING)
    spool = Spool(settings.home / "spool")
    codec = default_codec()
    publisher = Publisher(settings, codec, spool, ack_timeout=settings.bridge_ack_timeout)
    publisher.prepare()
    feed = feed_monitor(settings.feed_silence_seconds)
    experiments = ExperimentFollower(settings, codec, "bridge-experiments")
    gate = Gate(settings, codec, rules, "bridge-gate")
    logging.getLogger("fillstream.bridge").info(
        "bridge listening on %s", listening(settings, host, port)
    )
    try:
        with daemon:
            app = create_app(settings, publisher, experiments, gate)
            daemon.report(
                port=port,
                checks=lambda: {
                    "kafka": publisher.kafka_reachable(timeout=2.0),
                    "gate": gate.loaded.is_set(),
                },
                figures=lambda: bridge_figures(REGISTRY.collect(), feed.ages()),
                codec=codec,
            )
            experiments.start()
            gate.start()
            threading.Thread(
                target=_log_rules, args=(gate,), name="gate-rules", daemon=True
            ).start()
            daemon.handle_signals()
            run_until_stopped(app, daemon.stop, host=host, port=port, drain=_DRAIN_SECONDS,
                              ssl_context=tls)  # fmt: skip
        return daemon.finish(timeout=5.0)  # run_app returns on SIGTERM and SIGINT: a clean stop
    finally:
        gate.close()
        experiments.close()
        publisher.close()


def _log_rules(gate: Gate) -> None:
    """Once the gate has read the log: its rules' version on ``control.gate`` if new; and the
    state read so far kept out of the garbage collector's sweeps, which would otherwise walk it
    while decisions wait (``gc.freeze``)."""
    if gate.loaded.wait(timeout=300):
        gc.freeze()
        change = gate.log_rules_version()
        if change is not None:
            logging.getLogger("fillstream.bridge").info(
                "gate rules %s logged on control.gate", change.rules_version
            )
