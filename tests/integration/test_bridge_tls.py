"""The bridge over TLS, with real handshakes on loopback: a Python client trusting the
certificate posts through it, and so does ``fillstream demo``'s with the configured certificate;
the AddOn's C# client (under Mono) posts with the pin ``fillstream certs`` prints, and with a
wrong pin, or none for a self-signed certificate, it is refused before anything is sent: nothing
reaches the bridge or Kafka, and the client says why."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from bridge.tls import client_context, self_signed, spki_pin, write_pair
from core.errors import ServiceError
from core.settings import PROJECT_ROOT, Settings
from deploy.services import check_health, health_url, local_bridge_url
from fillstream.commands.demo import post_batch
from schemas.codec import default_codec
from schemas.events import BridgeHeartbeat, Event
from tests.fixtures.pipeline import ServiceProcess, end_offsets, execution
from tests.fixtures.services import Endpoints, settings_for, wait_for
from tests.fixtures.tlsprobe import build_probe, run_probe, write_config

pytestmark = pytest.mark.integration


class TlsBridge(ServiceProcess):
    """The bridge serving HTTPS, healthy once it answers through a verified handshake."""

    def _healthy(self) -> bool:
        assert self.process is not None and self.settings.bridge_tls_cert is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        context = ssl.create_default_context(cafile=str(self.settings.bridge_tls_cert))
        try:
            with urllib.request.urlopen(
                f"{self.settings.bridge_url}/healthz", timeout=1, context=context
            ) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_probe(tmp_path_factory.mktemp("tlsprobe"))


@pytest.fixture
def settings(services: Endpoints, tmp_path: Path) -> Settings:
    """A namespace of its own, and a self-signed pair for 127.0.0.1 as `fillstream certs`
    writes it."""
    cert, key = write_pair(self_signed(["127.0.0.1", "localhost"]), tmp_path / "certs")
    home = tmp_path / "home"
    home.mkdir()
    return settings_for(
        services, home, FILLSTREAM_BRIDGE_TLS_CERT=str(cert), FILLSTREAM_BRIDGE_TLS_KEY=str(key)
    )


@pytest.fixture
def bridge(settings: Settings) -> Iterator[ServiceProcess]:
    service = TlsBridge(settings, "bridge", settings.bridge_port).start()
    try:
        yield service
    finally:
        service.stop()
        print(f"----- bridge log -----\n{service.log_tail(60)}")  # shown when a test fails


def post(settings: Settings, context: ssl.SSLContext | None, body: object) -> int:
    request = urllib.request.Request(
        f"{settings.bridge_url}/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"},
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return int(response.status)


def records(settings: Settings, topic: str) -> list[Event]:
    """Every record of a catalog topic, decoded."""
    name = settings.topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "tests-tls",
            "enable.auto.commit": False,
        }
    )
    codec = default_codec()
    events: list[Event] = []
    try:
        for partition, high in end_offsets(settings, topic).items():
            if high == 0:
                continue
            consumer.assign([TopicPartition(name, partition, 0)])
            while True:
                message = consumer.poll(10)
                assert message is not None, f"{name}[{partition}] stopped short of offset {high}"
                assert message.error() is None, message.error()
                events.append(codec.decode(message.value() or b""))
                if (message.offset() or 0) + 1 >= high:
                    break
    finally:
        consumer.close()
    return events


def test_a_client_trusting_the_certificate_posts_through_tls(
    settings: Settings, bridge: ServiceProcess, tmp_path: Path
) -> None:
    assert settings.bridge_tls_cert is not None
    assert settings.bridge_url.startswith("https://127.0.0.1:")
    trusting = ssl.create_default_context(cafile=str(settings.bridge_tls_cert))

    assert post(settings, trusting, [execution("x-tls-1", "buy", "21000.25")]) == 202
    wait_for(
        lambda: sum(end_offsets(settings, "raw.executions").values()) == 1,
        timeout=30,
        message="the execution posted through TLS is not on raw.executions",
    )

    with pytest.raises(urllib.error.URLError) as caught:  # the machine's store lacks it
        post(settings, ssl.create_default_context(), [execution("x-tls-2", "buy", "1")])
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    plain = settings.bridge_url.replace("https://", "http://")
    with pytest.raises(OSError):  # no plain HTTP on the TLS port
        urllib.request.urlopen(f"{plain}/healthz", timeout=5)
    # what `fillstream up` and `fillstream status` ask
    assert check_health(health_url(settings, "bridge")) is None
    assert sum(end_offsets(settings, "raw.executions").values()) == 1
    # what `fillstream demo` sends with: the configured certificate trusted, host names checked
    context = client_context(settings.bridge_tls_cert)
    url = f"{local_bridge_url(settings)}/v1/events"
    assert post_batch([execution("x-tls-3", "buy", "21001")], url=url, token=settings.token or "",
                      context=context) == 1  # fmt: skip
    other, _ = write_pair(self_signed(["127.0.0.1"]), tmp_path / "other")
    with pytest.raises(ServiceError, match="certificate verify failed"):  # another certificate
        post_batch([execution("x-tls-4", "buy", "21001")], url=url, token=settings.token or "",
                   context=client_context(other))  # fmt: skip
    wait_for(
        lambda: sum(end_offsets(settings, "raw.executions").values()) == 2,
        timeout=30,
        message="the demo's post through TLS is not on raw.executions",
    )


def test_the_addon_posts_with_the_pin_fillstream_certs_prints_and_no_other(
    settings: Settings, bridge: ServiceProcess, probe: Path, tmp_path: Path
) -> None:
    assert settings.bridge_tls_cert is not None and settings.token is not None
    shown = subprocess.run(
        [sys.executable, "-m", "fillstream", "certs", "--show"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = [line.strip() for line in shown.splitlines()]
    url = next(line for line in lines if line.startswith("url="))
    pin = next(line for line in lines if line.startswith("pin="))
    assert url == f"url={settings.bridge_url}"
    assert pin == f"pin={spki_pin(settings.bridge_tls_cert.read_bytes())}"

    def config(name: str, **pinned: str) -> str:
        path = tmp_path / f"{name}.config"
        token, address = settings.token or "", url.removeprefix("url=")
        return str(write_config(path, url=address, token=token, connection=name, **pinned))

    other = spki_pin(self_signed(["127.0.0.1"]).certificate)
    wrong = run_probe(probe, "post", config("probe-wrong-pin", pin=other))
    assert wrong.rstrip().endswith("outcome: not sent"), wrong
    assert (
        f"the bridge's TLS certificate ({pin.removeprefix('pin=')}) does not match pin= in "
        "fillstream.config; refused" in wrong
    ), wrong

    unpinned = run_probe(probe, "post", config("probe-no-pin"))
    assert unpinned.rstrip().endswith("outcome: not sent"), unpinned
    assert "the bridge's TLS certificate is not trusted by this machine" in unpinned, unpinned

    right = run_probe(probe, "post", config("probe-right-pin", pin=pin.removeprefix("pin=")))
    assert right.rstrip().endswith("outcome: sent"), right
    assert "Warning" not in right and "Error" not in right, right

    wait_for(
        lambda: sum(end_offsets(settings, "raw.heartbeats").values()) >= 1,
        timeout=30,
        message="the heartbeat posted with the right pin is not on raw.heartbeats",
    )
    beats = records(settings, "raw.heartbeats")
    assert [b.connection for b in beats if isinstance(b, BridgeHeartbeat)] == ["probe-right-pin"]
    assert len(beats) == 1
