"""Health checks in the log: the bridge, the worker and the projectors each publish a
``ServiceChecked`` to ``health`` at start, every ``FILLSTREAM_HEALTH_INTERVAL_SECONDS`` and at a
clean stop, with their readiness checks and figures; the uptime projection folds them into its
views; and a reporter whose Kafka is down neither blocks nor fails its process."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from core.health_events import is_stopping
from core.health_reporter import HealthReporter
from core.kafka import producer_config
from core.settings import Settings
from projections import PROJECTIONS
from schemas.codec import default_codec
from schemas.events import ServiceChecked
from streams.stages import IMPORTED_STAGES, PAPER_STAGES, STAGES
from tests.fixtures.kafka_clients import none_left_alive
from tests.fixtures.pipeline import post, query, readiness
from tests.fixtures.services import free_port, wait_for
from tests.integration.test_bridge_edges import heartbeat
from tests.integration.test_replay import records
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """The test's settings with a health check every second."""
    return dataclasses.replace(settings, health_interval_seconds=1)


@pytest.fixture
def pipeline(quick: Settings) -> Iterator[Pipeline]:
    yield from running(quick)


def checks_by_service(settings: Settings) -> dict[str, list[tuple[bytes | None, ServiceChecked]]]:
    """Every health check logged, by service, in log order (one key, one partition)."""
    codec = default_codec()
    found: dict[str, list[tuple[bytes | None, ServiceChecked]]] = {}
    for rows in records(settings, "health").values():
        for key, value in rows:
            event = codec.decode(value)
            assert isinstance(event, ServiceChecked)
            found.setdefault(event.service, []).append((key, event))
    return found


def test_every_process_publishes_its_checks_and_figures(
    quick: Settings, pipeline: Pipeline
) -> None:
    assert post(quick, [], token="not-the-token-at-all")[0] == 401  # an error of the bridge's
    assert post(quick, [heartbeat(1)])[0] == 202  # a NinjaTrader connection the bridge sees
    producer = Producer(producer_config(quick))
    producer.produce(quick.topic("raw.executions"), key=b"Sim101", value=b"not avro")
    assert producer.flush(10) == 0  # a dead letter of the worker's and the projectors'
    ports = {"bridge": quick.bridge_port, "worker": quick.worker_port,
             "projector": quick.projector_port}  # fmt: skip
    worker_checks = set(readiness(quick.worker_port)[1])

    def latest() -> dict[str, ServiceChecked] | None:
        found = checks_by_service(quick)
        last = {service: events[-1][1] for service, events in found.items()}
        ready = (
            set(last) == set(ports)
            and all(check.healthy for check in last.values())
            and last["bridge"].figures.get("errors_total", 0) >= 1
            and "feed_age_seconds|Rithmic" in last["bridge"].figures
            and last["worker"].figures.get("errors_total", 0) >= 1
            and last["projector"].figures.get("errors_total", 0) >= 1
        )
        return last if ready else None

    said = "the checks never showed the three healthy with their figures"
    last = wait_for(latest, timeout=90, interval=1.0, message=said)
    bridge, worker, projector = last["bridge"], last["worker"], last["projector"]
    assert bridge.checks == {"kafka": True, "gate": True}  # the gate has read the log
    assert set(bridge.figures) == {"errors_total", "spool_records", "feed_age_seconds|Rithmic"}
    assert bridge.figures["spool_records"] == 0
    assert 0 <= bridge.figures["feed_age_seconds|Rithmic"] < 90
    assert set(worker.checks) == worker_checks and "stage matching assigned" in worker_checks
    assert "stage matching progressing" in worker_checks
    stalls = {
        f"stalled_seconds|{name}"
        for name in STAGES
        if (quick.paper or name not in PAPER_STAGES)
        and (quick.imported_trades or name not in IMPORTED_STAGES)
    }
    assert set(worker.figures) == {
        "lag_records", "errors_total", "recovery_remaining_records", *stalls
    }  # fmt: skip
    # every stage progresses: records may wait a moment between commits, never the stall limit
    assert all(worker.figures[name] < quick.stall_seconds for name in stalls)
    assert worker.figures["recovery_remaining_records"] == 0
    assert worker.figures["lag_records"] <= quick.ready_lag_records
    assert projector.checks == {"kafka": True, "postgresql": True, "caught up": True}
    assert set(projector.figures) == {"lag_records", "errors_total"}
    # a dead letter of each projection that reads raw.executions
    assert projector.figures["errors_total"] == sum(
        "raw.executions" in p.topics for p in PROJECTIONS
    ) == 2  # fmt: skip
    assert worker.figures["errors_total"] == 1
    host = socket.gethostname()
    for service, events in checks_by_service(quick).items():
        assert len(events) >= 3, service  # one at start, then one a second
        for key, event in events:
            assert event.instance == f"{host}:{ports[service]}"
            assert key == f"{service}|{event.instance}".encode()
            assert event.interval_seconds == 1
            assert event.started_at <= event.envelope.ts_event
        assert len({e.envelope.event_id for _, e in events}) == len(events)
        assert len({e.started_at for _, e in events}) == 1  # one process, one start

    # a clean stop is the worker's last check: it fails "running", and nothing else is said
    pipeline.worker.stop()
    stopped = wait_for(
        lambda: [e for _, e in checks_by_service(quick)["worker"] if is_stopping(e)],
        timeout=30,
        interval=1.0,
        message="the worker published no last check when it stopped",
    )
    assert len(stopped) == 1
    assert stopped[0] == checks_by_service(quick)["worker"][-1][1]
    assert stopped[0].checks == {"running": False} and not stopped[0].healthy

    # the uptime projection has them: the worker's time since its stop counts as stopped
    def projected() -> list[tuple[str, str, int, int]]:
        rows = query(quick, "SELECT service, instance, sum(checks)::int, sum(stops)::int"
                            " FROM uptime_daily GROUP BY 1, 2 ORDER BY 1")  # fmt: skip
        return rows if len(rows) == 3 and rows[2][3] == 1 else []

    rows = wait_for(projected, timeout=60, interval=1.0, message="no uptime of the three")
    assert [(s, i) for s, i, _, _ in rows] == [
        (s, f"{host}:{ports[s]}") for s in ("bridge", "projector", "worker")
    ]
    assert all(checks >= 3 for _, _, checks, _ in rows)
    (last_span,) = query(
        quick,
        "SELECT state FROM uptime_spans WHERE service = 'worker' ORDER BY starts_at DESC LIMIT 1",
    )
    assert last_span == ("stopped",)


def test_a_reporter_neither_blocks_nor_fails_while_kafka_is_down(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = dataclasses.replace(quick, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    made: list[float] = []

    def checks() -> dict[str, bool]:
        made.append(time.monotonic())
        return {"kafka": False}

    caplog.set_level(logging.INFO, logger="fillstream.health")
    with none_left_alive():  # its producer closed: not reconnecting for the rest of the suite
        reporter = HealthReporter(
            down, default_codec(), service="bridge", port=1, checks=checks, figures=dict
        )
        began = time.monotonic()
        reporter.start()
        wait_for(lambda: len(made) >= 4, timeout=15, message="the checks stopped coming")
        assert made[3] - made[0] < 3.0 + 1.0  # every second, not held up by the producer
        wait_for(lambda: "not reaching Kafka" in caplog.text, timeout=15, message="nothing logged")
        stopping = time.monotonic()
        reporter.stop(timeout=1.0)
        assert time.monotonic() - stopping < 3.0
        assert caplog.text.count("health checks not reaching Kafka") == 1  # logged once
        assert "not delivered to Kafka before exit" in caplog.text
        assert time.monotonic() - began < 20
        reporter.stop()  # a second stop does nothing
        del reporter  # the test's own reference; the undelivered checks must hold none
