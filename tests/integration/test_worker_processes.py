"""The worker's stage processes: one port reports them all, and none outlives the worker."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.settings import Settings, available_cores
from fillstream.commands.worker import default_matching_processes
from schemas.catalog import load_catalog
from streams.stages import STAGES
from tests.fixtures.pipeline import ServiceProcess, alive, readiness
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

PARTITIONS = load_catalog()["raw.executions"].partitions
PROCESSES = default_matching_processes(PARTITIONS, available_cores()) + len(STAGES) - 1
"""Matching's (by default one per partition it reads, at most the cores less one), and one for
each other stage."""


def children(worker: int) -> dict[int, str]:
    """The processes whose parent is ``worker``: the stage processes and multiprocessing's
    resource tracker, with their command lines."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == worker:
            found[int(pid)] = command
    return found


def stages(worker: int) -> list[int]:
    return [pid for pid, command in children(worker).items() if "spawn_main" in command]


@pytest.fixture
def worker(settings: Settings) -> Iterator[ServiceProcess]:
    """A started worker with every stage (the imported-trades ones too), stopped (if the test has
    not) however the test ends."""
    process = ServiceProcess(replace(settings, imported_trades=True), "worker",
                             settings.worker_port).start()  # fmt: skip
    try:
        yield process
    finally:
        process.stop()


def test_every_stage_is_ready_on_the_one_port_and_stops_with_sigterm(
    settings: Settings, worker: ServiceProcess
) -> None:
    assert worker.process is not None
    expected = {
        f"stage {name} {check}": True for name in STAGES for check in ("assigned", "progressing")
    } | {
        "kafka": True,
        "caught up": True,
    }
    wait_for(
        lambda: readiness(settings.worker_port)[1] == expected,
        timeout=60,
        message=f"not every stage became ready:\n{worker.log_tail()}",
    )
    assert len(stages(worker.process.pid)) == PROCESSES
    spawned = children(worker.process.pid)
    with urllib.request.urlopen(
        f"http://127.0.0.1:{settings.worker_port}/metrics", timeout=5
    ) as response:
        scraped = response.read().decode()
    assert "fillstream_stream_trades_closed_total 0.0" in scraped  # the stages' files, added up
    worker.process.terminate()
    assert worker.process.wait(timeout=30) == 0, worker.log_tail()
    wait_for(lambda: not any(alive(pid) for pid in spawned), timeout=10)
    assert not (settings.home / "worker-metrics" / str(settings.worker_port)).exists()


def test_no_stage_outlives_a_killed_worker(settings: Settings, worker: ServiceProcess) -> None:
    assert worker.process is not None
    pid = worker.process.pid
    wait_for(lambda: len(stages(pid)) == PROCESSES, timeout=30, message=worker.log_tail())
    spawned = children(pid)
    worker.kill()
    wait_for(
        lambda: not any(alive(child) for child in spawned),
        timeout=10,
        message="a stage process outlived the killed worker",
    )
