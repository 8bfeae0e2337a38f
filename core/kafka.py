"""Kafka clients for the deploy tooling, quiet while a broker is absent or still booting."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient


def _quiet_logger() -> logging.Logger:
    """Receives librdkafka's log lines (only served on poll) and drops them."""
    logger = logging.getLogger("fillstream.deploy.rdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


QUIET_LOGGER = _quiet_logger()


def quiet_admin(bootstrap_servers: str) -> AdminClient:
    """An AdminClient that does not print 'Connection refused' lines to stderr."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": QUIET_LOGGER}
    return AdminClient(config)


def probe_consumer(bootstrap_servers: str, group: str, **config: Any) -> Consumer:
    """A quiet consumer for asking about offsets: it never joins ``group`` (no subscribe),
    and commits nothing by itself."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "logger": QUIET_LOGGER,
            **config,
        }
    )
