"""The bridge's edges against the real broker: dead letters, feed silence, hostile payloads."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.settings import Settings
from tests.fixtures.pipeline import ServiceProcess, end_offsets, execution, post
from tests.fixtures.services import free_port, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def quick_silence(settings: Settings) -> Settings:
    return dataclasses.replace(settings, feed_silence_seconds=1.0)


@pytest.fixture
def bridge(quick_silence: Settings) -> Iterator[ServiceProcess]:
    process = ServiceProcess(quick_silence, "bridge", quick_silence.bridge_port).start()
    try:
        yield process
    finally:
        process.stop()


def scrape(settings: Settings) -> str:
    with urllib.request.urlopen(f"{settings.bridge_url}/metrics", timeout=5) as response:
        return str(response.read().decode())


def heartbeat(sequence: int) -> dict[str, Any]:
    return {"type": "heartbeat", "ts_event": "2026-09-22T13:35:00Z", "connection": "Rithmic",
            "accounts": ["Sim101"], "sequence": sequence, "queue_depth": 0}  # fmt: skip


def test_heartbeats_keep_the_feed_alive_and_silence_shows(
    quick_silence: Settings, bridge: ServiceProcess
) -> None:
    assert post(quick_silence, heartbeat(1))[0] == 202
    assert 'fillstream_bridge_feed_alive{connection="Rithmic"} 1.0' in scrape(quick_silence)
    wait_for(
        lambda: 'fillstream_bridge_feed_alive{connection="Rithmic"} 0.0' in scrape(quick_silence),
        timeout=10,
        message="a silent feed still looks alive",
    )
    with urllib.request.urlopen(f"{quick_silence.bridge_url}/readyz", timeout=5) as response:
        assert json.loads(response.read())["silent_feeds"] == ["Rithmic"]
    assert post(quick_silence, heartbeat(2))[0] == 202
    assert 'fillstream_bridge_feed_alive{connection="Rithmic"} 1.0' in scrape(quick_silence)


def test_an_execution_without_a_contract_goes_to_the_dead_letter_topic(
    quick_silence: Settings, bridge: ServiceProcess
) -> None:
    worker = ServiceProcess(quick_silence, "worker", quick_silence.worker_port).start()
    try:
        assert (
            post(quick_silence, execution("dl-1", "buy", "10.5", instrument="XYZ 12-26"))[0] == 202
        )
        wait_for(lambda: sum(end_offsets(quick_silence, "dead-letter").values()) >= 1, timeout=60,
                 message="nothing reached the dead-letter topic")  # fmt: skip
        headers = dead_letter_headers(quick_silence)
        assert headers["code"] == "unknown_instrument"
        assert "no contract specification for root 'XYZ'" in headers["reason"]
        assert headers["origin"].startswith(quick_silence.topic("raw.executions") + "/")
        with urllib.request.urlopen(f"http://127.0.0.1:{quick_silence.worker_port}/metrics") as r:
            text = r.read().decode()
        assert 'fillstream_stream_dead_letters_total{reason="unknown_instrument"} 1.0' in text
    finally:
        worker.stop()


def dead_letter_headers(settings: Settings) -> dict[str, str]:
    name = settings.topic("dead-letter")
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "t-dlq"})
    try:
        for p in end_offsets(settings, "dead-letter"):
            consumer.assign([TopicPartition(name, p, 0)])
            message = consumer.poll(2)
            if message is not None and not message.error():
                pairs = message.headers() or []
                assert isinstance(pairs, list)  # a consumed record's headers are a list of pairs
                return {k: v.decode() for k, v in pairs if isinstance(v, bytes)}
        raise AssertionError("no dead letter found")
    finally:
        consumer.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
fields = st.sampled_from(
    sorted(execution("f", "buy", "1")) + ["features", "confidence", "sequence"]
)
events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["execution", "order", "position", "signal", "bar", "heartbeat", "x"]
        )
    },
    optional={"ts_event": st.just("2026-09-22T13:35:00Z") | st.text(max_size=10)},
).flatmap(
    lambda base: st.dictionaries(fields, json_values, max_size=6).map(
        lambda extra: {**extra, **base}
    )
)


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(events, st.lists(events, max_size=5), json_values))
def test_fuzzed_payloads_get_a_clear_answer_and_never_crash_the_bridge(
    quick_silence: Settings, bridge: ServiceProcess, body: Any
) -> None:
    status, answer = post(quick_silence, body)
    assert status in (202, 400, 422), answer
    if status != 202:
        assert answer["error"] and all(e["field"] and e["reason"] for e in answer.get("errors", []))
    assert bridge.process is not None and bridge.process.poll() is None


def test_readiness_asks_kafka_off_the_event_loop(settings: Settings) -> None:
    """With no broker, /readyz waits out its 2 s Kafka timeout; meanwhile the bridge answers
    other requests (it spools events: still 200, with kafka false)."""
    nowhere = dataclasses.replace(settings, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    process = ServiceProcess(nowhere, "bridge", nowhere.bridge_port).start()
    try:
        answered: dict[str, Any] = {}

        def ready() -> None:
            with urllib.request.urlopen(f"{nowhere.bridge_url}/readyz", timeout=10) as response:
                answered["status"], answered["body"] = response.status, json.loads(response.read())

        waiting = threading.Thread(target=ready)
        waiting.start()
        wait_for(lambda: "fillstream_bridge_kafka_up" in scrape(nowhere), timeout=10)
        assert waiting.is_alive(), "/readyz answered before the others could be asked"
        with urllib.request.urlopen(f"{nowhere.bridge_url}/healthz", timeout=1) as response:
            assert response.status == 200
        assert waiting.is_alive()  # the health check did not wait for it
        waiting.join(timeout=10)
        assert answered == {"status": 200, "body": answered["body"]}
        assert answered["body"]["kafka"] is False
    finally:
        process.stop()
