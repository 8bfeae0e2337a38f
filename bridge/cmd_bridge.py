"""``fillstream bridge``: run the ingest HTTP server in the foreground."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bridge.publisher import Publisher
from bridge.server import create_app
from bridge.spool import Spool
from fillstream.settings import Settings
from schemas.codec import default_codec


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream bridge", description=__doc__)
    parser.add_argument(
        "--host", help="address to bind (default FILLSTREAM_BRIDGE_HOST or 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, help="port (default FILLSTREAM_BRIDGE_PORT or 8787)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    settings.require_token()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    spool = Spool(settings.home / "spool")
    publisher = Publisher(settings, default_codec(), spool, ack_timeout=settings.bridge_ack_timeout)
    publisher.prepare()
    host = args.host or settings.bridge_host
    port = args.port or settings.bridge_port
    logging.getLogger("fillstream.bridge").info("bridge listening on http://%s:%d", host, port)
    try:
        web.run_app(
            create_app(settings, publisher), host=host, port=port, print=None, access_log=None
        )
    finally:
        publisher.close()
    return 0
