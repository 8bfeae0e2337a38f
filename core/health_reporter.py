"""Publishing a process's health checks: a ``HealthReporter`` thread produces a ``ServiceChecked``
(``core.health_events``) to ``health`` when the process starts, every
``FILLSTREAM_HEALTH_INTERVAL_SECONDS`` after, and once more when it stops cleanly.

Reporting never holds the process up: produce only queues the record, and when Kafka is down the
producer keeps it (a few minutes) and keeps trying, so the checks made during a short outage
still reach the log. A failure is logged once, and its end once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from core.health_events import service_checked, stopping_checks
from core.kafka import producer_config
from core.settings import Settings
from schemas.catalog import HEALTH, record_headers
from schemas.codec import Codec
from schemas.events import ServiceChecked, schema_name

log = logging.getLogger("fillstream.health")

TOPIC = HEALTH

KEEP_MS = 300_000
"""How long an undelivered check waits for Kafka before it is given up on."""

_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)


class HealthReporter:
    """Publishes the health checks of one process, from a daemon thread of its own.

    ``checks`` returns the readiness checks (what ``/readyz`` answers) and ``figures`` the
    process's figures; ``port`` is its health server's, which names the instance with the host.
    """

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        *,
        service: str,
        port: int,
        checks: Callable[[], Mapping[str, bool]],
        figures: Callable[[], Mapping[str, float]],
        started_at: datetime | None = None,
    ) -> None:
        self.service = service
        self.instance = f"{socket.gethostname()}:{port}"
        self.interval_seconds = settings.health_interval_seconds
        self.started_at = started_at or datetime.now(UTC)
        self._settings = settings
        self._codec = codec
        self._checks = checks
        self._figures = figures
        self._producer = Producer(
            {**producer_config(settings), "message.timeout.ms": KEEP_MS, "error_cb": self._on_error}
        )
        self._stop = threading.Event()
        self._now = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health:{service}", daemon=True)
        self._failing = False
        self._producing = threading.Lock()
        self._closed = False

    def start(self) -> HealthReporter:
        self._thread.start()
        return self

    def publish_now(self) -> None:
        """Publish a check now rather than at the next interval (something changed)."""
        self._now.set()

    def stop(self, timeout: float = 5.0) -> None:
        """A clean stop: end the checks and publish the last one, which fails ``running``;
        wait up to ``timeout`` seconds for Kafka to take what is still queued. Once stopped or
        closed, the reporter is done: stopping or closing it again does nothing."""
        if self._closed:
            return
        self._end(timeout)
        self._publish(self._event(stopping_checks()))
        self._close_producer(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """End the checks without a last one (the process fails: its silence says so)."""
        if self._closed:
            return
        self._end(timeout)
        self._close_producer(timeout)

    def check(self) -> ServiceChecked:
        """The process's health check now."""
        try:
            checks = dict(self._checks())
        except Exception:  # a check that cannot run is a failing one; the process goes on
            log.exception("%s: the readiness checks failed to run", self.service)
            checks = {"readiness": False}
        try:
            figures = dict(self._figures())
        except Exception:
            log.exception("%s: the health figures could not be read", self.service)
            figures = {}
        return self._event(checks, figures)

    def _event(
        self, checks: Mapping[str, bool], figures: Mapping[str, float] | None = None
    ) -> ServiceChecked:
        return service_checked(
            service=self.service,
            instance=self.instance,
            checks=checks,
            figures=figures or {},
            interval_seconds=self.interval_seconds,
            started_at=self.started_at,
            at=datetime.now(UTC),
        )

    def _run(self) -> None:
        due = time.monotonic()
        while True:
            self._publish(self.check())
            due += self.interval_seconds
            now = time.monotonic()
            if due < now:  # a check took longer than the interval: skip the missed ones
                due = now + self.interval_seconds
            self._now.wait(due - now)
            if self._stop.is_set():
                return
            if self._now.is_set():
                self._now.clear()
                due = time.monotonic()

    def _end(self, timeout: float) -> None:
        self._stop.set()
        self._now.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _publish(self, event: ServiceChecked) -> None:
        with self._producing:
            if self._closed:  # a check that outlasted ``_end``'s wait comes too late
                return
            try:
                self._producer.produce(
                    self._settings.topic(TOPIC),
                    key=f"{event.service}|{event.instance}".encode(),
                    value=self._codec.encode(event),
                    headers=list(record_headers(schema_name(event), event.envelope.event_id)),
                    on_delivery=self._on_delivery,
                )
            except (BufferError, KafkaException) as e:
                self._failed(f"not queued: {e}")
            self._producer.poll(0)

    def _close_producer(self, timeout: float) -> None:
        """Give Kafka up to ``timeout`` seconds for what is queued, drop the rest and close the
        producer. Left open, it would go on reconnecting (and logging each refused connection)
        for as long as the process lives, and its queued checks, holding ``_on_delivery``,
        would keep this reporter alive as well."""
        with self._producing:
            left = self._producer.flush(timeout)
            if left:
                log.warning(
                    "%s: %d health checks not delivered to Kafka before exit", self.service, left
                )
                self._producer.purge()
                self._producer.poll(0)  # their delivery reports, and with them their references
            self._producer.close()
            self._closed = True

    def _on_delivery(self, error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            if error.code() not in _PURGED:  # given up on by ``_close_producer``, not failed
                self._failed(str(error))
        elif self._failing:
            self._failing = False
            log.info("%s: health checks reach Kafka again", self.service)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._failed(str(error))

    def _failed(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            log.warning(
                "%s: health checks not reaching Kafka (%s); still trying", self.service, reason
            )
