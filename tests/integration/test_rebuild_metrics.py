"""Rebuild progress on the projector's /metrics: a rebuild interrupted part way shows what it
projected and what remains of its topics (the two adding up to the topics' records) and when it
last stored offsets, until it is resumed to completion."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from projections import TRADES
from projections import rebuild as rebuild_module
from projections.errors import RebuildError
from projections.rebuild import rebuild
from tests.fixtures.pipeline import end_offsets, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_observability import promtool
from tests.integration.test_rebuild import registry, round_trips, wait_trades
from tests.integration.test_walking_skeleton import Pipeline, running, scrape

pytestmark = pytest.mark.integration

PREFIX = "fillstream_projection_rebuild_"

FAMILIES = ("remaining_records", "projected_records", "updated_timestamp_seconds")

Gauges = dict[str, dict[tuple[str, str], float]]


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def rebuild_gauges(text: str) -> Gauges:
    """Each rebuild family served, with its samples by (projection, version)."""
    return {
        family.name: {
            (s.labels["projection"], s.labels["version"]): s.value for s in family.samples
        }  # fmt: skip
        for family in text_string_to_metric_families(text)
        if family.name.startswith(PREFIX)
    }


class InterruptAfterFirstRecords:
    """Stands in for the progress line: Ctrl-C once the first records are projected."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def __call__(self, done: int, total: int) -> None:
        if done > 0:
            self.stop.set()

    def close(self) -> None:
        pass


def test_an_interrupted_rebuild_shows_its_progress_until_resumed_to_completion(
    settings: Settings, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = pipeline.projector.health_port
    assert post(settings, round_trips("r", 6))[0] == 202
    wait_trades(settings, 6)
    families = {f"{PREFIX}{n}" for n in FAMILIES}
    assert rebuild_gauges(scrape(port)) == dict.fromkeys(families, {})  # served, nothing built

    stop = threading.Event()
    monkeypatch.setattr(rebuild_module, "BATCH_SIZE", 2)
    monkeypatch.setattr(rebuild_module, "ProgressLine", lambda *_: InterruptAfterFirstRecords(stop))
    with pytest.raises(RebuildError, match="interrupted; run it again"):
        rebuild(settings, TRADES, say=lambda _: None, stop=stop)
    monkeypatch.undo()
    assert registry(settings, "trades") == {1: "live", 2: "building"}

    text = scrape(port)
    checked = promtool("check", "metrics", text=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    gauges = rebuild_gauges(text)
    key = ("trades", "2")
    remaining = gauges[f"{PREFIX}remaining_records"][key]
    projected = gauges[f"{PREFIX}projected_records"][key]
    records = sum(end_offsets(settings, "derived.trades").values())  # the log starts at 0
    assert projected > 0 and remaining > 0
    assert projected + remaining == records  # 6 trades and their transaction markers
    ((stored,),) = query(
        settings,
        "SELECT sum(next_offset) FROM projection_offsets WHERE projection = 'trades'"
        " AND version = 2",
    )
    assert projected == stored
    ((updated,),) = query(
        settings,
        "SELECT extract(epoch FROM max(updated_at)) FROM projection_offsets"
        " WHERE projection = 'trades' AND version = 2",
    )
    assert gauges[f"{PREFIX}updated_timestamp_seconds"][key] == pytest.approx(float(updated))
    assert time.time() - float(updated) < 60

    outcome = rebuild(settings, TRADES, say=lambda _: None)
    assert (outcome.version, outcome.state) == (2, "live")
    wait_for(lambda: rebuild_gauges(scrape(port)) == dict.fromkeys(families, {}), timeout=10,
             message="the rebuild's series are still served")  # fmt: skip
    # the collector's consumer lives as long as the process, which still stops cleanly
    pipeline.projector.stop()
    assert pipeline.projector.process is not None and pipeline.projector.process.returncode == 0
