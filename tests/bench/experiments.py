"""Issue 7's figures: the assignment endpoint's p99 latency under load (against the same
server's /healthz at the same pace), and the regime stage's labelling rate (against decoding the
same bars alone)."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from fillstream.settings import Settings
from schemas.codec import default_codec
from schemas.events import BarClosed, Envelope, EventId, ExperimentAction
from streams.deriver import Batch, Record
from streams.experiment_log import change
from streams.experiments import ExperimentSpec
from streams.regime_stage import LabelRegimes
from streams.regimes import RegimeParameters
from tests.bench.report import Result
from tests.harness import wait_for

RATE = 500
"""Requests per second, over all clients."""
CLIENTS = 4
SECONDS = 8
BARS = 60_000


def _paced(settings: Settings, method: str, path: str, bodies: list[bytes]) -> list[float]:
    """Latencies (s) of ``bodies`` sent open-loop at RATE over CLIENTS keep-alive connections."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"}
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection(settings.bridge_host, settings.bridge_port, 30)
        interval = CLIENTS / RATE
        mine, next_at = [], time.perf_counter()
        for body in share:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing an open-loop load generator, not awaiting a condition
            started = time.perf_counter()
            connection.request(method, path, body=body if method == "POST" else None,
                               headers=headers)  # fmt: skip
            response = connection.getresponse()
            answer = response.read()
            assert response.status == 200, answer
            mine.append(time.perf_counter() - started)
            next_at += interval
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(bodies[i::CLIENTS],)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def _p99_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def assignment_latency(settings: Settings) -> Result:
    spec = ExperimentSpec(
        experiment_id="bench", strategy="Bench", control_variant="a", treatment_variant="b",
        ramp=(50, 100),
    )  # fmt: skip
    change(settings, "bench", ExperimentAction.CONFIGURED, actor="bench", spec=spec)

    probe = json.dumps({"signal_id": "probe", "strategy": "Bench"}).encode()
    wait_for(lambda: _answer(settings, probe).get("experiment") == "bench", timeout=30,
             message="the bridge did not read the bench experiment")  # fmt: skip
    count = RATE * SECONDS
    warm = [json.dumps({"signal_id": f"w{i}", "strategy": "Bench"}).encode() for i in range(200)]
    _paced(settings, "POST", "/v1/assignments", warm)
    bodies = [
        json.dumps({"signal_id": f"s{i}", "strategy": "Bench"}).encode() for i in range(count)
    ]
    p99 = _p99_ms(_paced(settings, "POST", "/v1/assignments", bodies))
    baseline = _p99_ms(_paced(settings, "GET", "/healthz", [b""] * count))
    return Result(
        name=f"assignment p99 @{RATE} req/s",
        value=p99,
        unit="ms",
        baseline=baseline,
        baseline_name=f"GET /healthz of the same bridge at {RATE} req/s",
        ratio=p99 / baseline,
        goal="p99 < 25 ms (each assignment stored in Kafka first)",
        met=p99 < 25,
    )


def _answer(settings: Settings, body: bytes) -> dict[str, object]:
    connection = http.client.HTTPConnection(settings.bridge_host, settings.bridge_port, 30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {settings.token}"}
    connection.request("POST", "/v1/assignments", body=body, headers=headers)
    answer: dict[str, object] = json.loads(connection.getresponse().read())
    return answer


def _bars() -> list[Record]:
    codec = default_codec()
    rng = np.random.default_rng(11)
    start = datetime(2026, 1, 5, 14, tzinfo=UTC)
    close = Decimal(21000)
    records = []
    for i in range(BARS):
        previous = close
        close = previous + Decimal(int(rng.standard_normal() * 8)) / 4
        high = max(previous, close) + Decimal(int(abs(rng.standard_normal()) * 8)) / 4
        low = min(previous, close) - Decimal(int(abs(rng.standard_normal()) * 8)) / 4
        at = start + timedelta(minutes=i)
        bar = BarClosed(
            envelope=Envelope(event_id=EventId(f"b{i}"), ts_event=at, ts_ingested=at,
                              producer="bench"),
            instrument=("NQ 12-26", "ES 12-26", "CL 01-27")[i % 3], period="1 Minute",
            open=previous, high=high, low=low, close=close, volume=100,
        )  # fmt: skip
        records.append(Record("raw.market", i % 3, i, bar.instrument.encode(), codec.encode(bar)))
    return records


def labelling_rate() -> Result:
    records = _bars()
    codec = default_codec()
    started = time.perf_counter()
    for record in records:
        codec.decode(record.value)
    baseline = len(records) / (time.perf_counter() - started)
    stage = LabelRegimes(codec, RegimeParameters())
    started = time.perf_counter()
    for i in range(0, len(records), 2000):  # the deriver's batches
        stage.process(records[i : i + 2000], Batch())
    rate = len(records) / (time.perf_counter() - started)
    return Result(
        name="regime labelling",
        value=rate,
        unit="bars/s",
        baseline=baseline,
        baseline_name="decoding the same bars alone",
        ratio=rate / baseline,
        goal="≥ 10,000 bars/s (a year of 1-minute bars of 10 instruments, 3.6 M, in 6 min)",
        met=rate >= 10_000,
    )


def run(settings: Settings) -> list[Result]:
    return [assignment_latency(settings), labelling_rate()]
