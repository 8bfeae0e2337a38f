"""Every process of ours stops within its grace period after SIGTERM, cleanly (the worker's own
test, with a blocked stage, is in ``test_stalls``)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from core.settings import Settings
from core.shutdown import GRACE_SECONDS
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess
from tests.fixtures.services import free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", ["bridge", "project", "notify"])
def test_a_service_stops_cleanly_within_its_grace_period(settings: Settings, command: str) -> None:
    settings = replace(settings, notify_port=free_port())
    migrate(settings)
    port = {
        "bridge": settings.bridge_port,
        "project": settings.projector_port,
        "notify": settings.notify_port,
    }[command]
    service = ServiceProcess(settings, command, port).start()
    assert service.process is not None
    asked = time.monotonic()
    service.process.terminate()
    code = service.process.wait(timeout=GRACE_SECONDS + 5)
    took = time.monotonic() - asked
    assert code == 0, service.log_tail()
    assert took < GRACE_SECONDS, f"{command} took {took:.1f} s to stop"
    assert "did not stop within" not in service.log_path.read_text()
