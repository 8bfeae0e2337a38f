"""A stage held with records waiting and no progress (its process stopped with SIGSTOP) fails
/readyz, moves the stall metrics and raises the stage_stall alert, all resolved after SIGCONT; a
worker whose stage is blocked still stops within its grace period on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from core.settings import Settings
from core.shutdown import GRACE_SECONDS
from projections.migrate import migrate
from schemas.codec import default_codec
from schemas.events import AlertChanged
from tests.fixtures.pipeline import ServiceProcess, alive, execution, post, readiness
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

RULES = """
[[rules]]
name = "stage-stalled"
type = "stage_stall"
severity = "critical"
seconds = "3s"
"""


@pytest.fixture
def quick(settings: Settings, tmp_path: Path) -> Settings:
    """Stalls judged after 3 s, health checks every 2 s, the stage_stall rule at 3 s."""
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES)
    return replace(
        settings, stall_seconds=3.0, health_interval_seconds=2, alert_rules=rules, paper=False
    )


@pytest.fixture
def worker(quick: Settings) -> Iterator[ServiceProcess]:
    migrate(quick)
    process = ServiceProcess(quick, "worker", quick.worker_port).start()
    try:
        wait_for(lambda: readiness(quick.worker_port)[0] == 200, timeout=60,
                 message=f"the worker never became ready:\n{process.log_tail()}")  # fmt: skip
        yield process
    finally:
        for pid in stage_pids(process).values():  # none is left stopped, whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        process.stop()
        print(f"----- worker log -----\n{process.log_tail(60)}")


def metric(port: int, name: str, stage: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(rf'^{name}{{stage="{stage}"}} (\S+)$', text, re.MULTILINE)
    assert found, f"{name} for {stage} not in /metrics"
    return float(found.group(1))


def stage_pids(worker: ServiceProcess) -> dict[str, int]:
    """The pid of each stage process, from the worker's log (the last start of each)."""
    pids = {}
    for line in worker.log_path.read_text(errors="replace").splitlines():
        found = re.search(r"stage (\S+) (\d+) runs as pid (\d+)", line)
        if found:
            pids[f"{found.group(1)} {found.group(2)}"] = int(found.group(3))
    return pids


class Alerts:
    """The stage_stall alerts on ``derived.alerts``, read as they come."""

    def __init__(self, settings: Settings) -> None:
        self.codec = default_codec()
        self.consumer = Consumer(
            {"bootstrap.servers": settings.bootstrap_servers, "group.id": "tests-alerts",
             "auto.offset.reset": "earliest", "isolation.level": "read_committed"}
        )  # fmt: skip
        self.consumer.subscribe([settings.topic("derived.alerts")])
        self.seen: list[AlertChanged] = []

    def states(self, stage: str) -> list[str]:
        for message in self.consumer.consume(100, timeout=0.5):
            value = message.value()
            if message.error() is None and value:
                event = self.codec.decode(value)
                if isinstance(event, AlertChanged):
                    self.seen.append(event)
        return [
            a.state.value
            for a in self.seen
            if a.rule == "stage-stalled" and a.labels.get("stage") == stage
        ]

    def close(self) -> None:
        self.consumer.close()


def test_a_stage_held_with_records_waiting_is_not_ready_counted_and_alerted_until_it_moves(
    quick: Settings, worker: ServiceProcess
) -> None:
    bridge = ServiceProcess(quick, "bridge", quick.bridge_port).start()
    alerts = Alerts(quick)
    matching = [pid for name, pid in stage_pids(worker).items() if name.startswith("matching ")]
    assert matching, worker.log_tail()
    try:
        assert metric(quick.worker_port, "fillstream_stream_stalled", "matching") == 0
        for pid in matching:
            os.kill(pid, signal.SIGSTOP)
        held = time.monotonic()
        rounds = [execution(f"s-{n}-{side}", side, "100.00", instrument="ES 12-26",
                            ts=f"2026-09-22T14:00:{n:02d}Z")
                  for n in range(5) for side in ("buy", "sell")]  # fmt: skip
        assert post(quick, rounds)[0] == 202

        def not_ready() -> bool:
            status, checks = readiness(quick.worker_port)
            return status == 503 and checks.get("stage matching progressing") is False

        wait_for(not_ready, timeout=30, interval=0.2,
                 message=f"matching never reported stalled:\n{worker.log_tail()}")  # fmt: skip
        status, checks = readiness(quick.worker_port)
        assert checks["stage scopes progressing"], checks  # only the held stage is stalled
        assert metric(quick.worker_port, "fillstream_stream_stalled", "matching") == 1
        assert metric(quick.worker_port, "fillstream_stream_stalls_total", "matching") == 1
        assert metric(quick.worker_port, "fillstream_stream_waiting_records", "matching") >= 10
        assert metric(quick.worker_port, "fillstream_stream_stalled", "scopes") == 0
        wait_for(lambda: "raised" in alerts.states("matching"), timeout=30, interval=0.1,
                 message=f"no stage_stall alert:\n{worker.log_tail()}")  # fmt: skip
        assert time.monotonic() - held < 60, "the alert took more than a minute"

        for pid in matching:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: readiness(quick.worker_port)[0] == 200, timeout=30, interval=0.2,
                 message=f"the worker never became ready again:\n{worker.log_tail()}")  # fmt: skip
        assert metric(quick.worker_port, "fillstream_stream_stalled", "matching") == 0
        assert metric(quick.worker_port, "fillstream_stream_waiting_records", "matching") == 0
        wait_for(
            lambda: alerts.states("matching")[-1:] == ["resolved"],
            timeout=30,
            interval=0.1,
            message=f"the alert never resolved: {alerts.seen}",
        )
        # the held process went on where it was: not ended by its watchdog, not restarted
        assert stage_pids(worker) and all(pid in stage_pids(worker).values() for pid in matching), (
            "a stage process was started again"
        )
        assert "overran" not in worker.log_path.read_text()
    finally:
        alerts.close()
        bridge.stop()


def test_a_worker_whose_stage_is_blocked_stops_within_its_grace_period(
    quick: Settings, worker: ServiceProcess
) -> None:
    assert worker.process is not None
    pids = stage_pids(worker)
    blocked = pids["matching 0"]
    os.kill(blocked, signal.SIGSTOP)  # neither its handler nor its threads can run
    asked = time.monotonic()
    worker.process.terminate()
    try:
        code = worker.process.wait(timeout=GRACE_SECONDS + 5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not stop within {GRACE_SECONDS + 5:g} s")
    took = time.monotonic() - asked
    assert took <= GRACE_SECONDS + 1, f"stopped after {took:.1f} s"
    assert code == 0, worker.log_tail()
    wait_for(lambda: not any(alive(pid) for pid in pids.values()), timeout=5,
             message="a stage process outlived the worker")  # fmt: skip
    assert "did not stop within" in worker.log_path.read_text()  # the blocked one was killed
