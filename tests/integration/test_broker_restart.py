"""A broker killed (SIGKILL) while executions flow through the bridge, then brought back: the
pipeline resumes by itself, and every trade appears exactly once with its exact P&L.

The broker here is the test's own (its own home and ports), so killing it disturbs no other test.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.process import port_in_use
from deploy.kafka import LocalKafka
from domain.contracts import spec_for
from projections.migrate import migrate
from tests.fixtures.pipeline import ServiceProcess, execution, post, query, readiness
from tests.fixtures.services import Endpoints, local_kafka, settings_for, temporary_home, wait_for

pytestmark = pytest.mark.integration

ACCOUNTS = ("A1", "A2", "A3")
INSTRUMENTS = ("ES 12-26", "NQ 12-26")
COMMISSION = Decimal("1.00")


@pytest.fixture
def broker() -> Iterator[LocalKafka]:
    """A broker of this test's own, stopped on exit."""
    with temporary_home("fillstream-broker-") as home, local_kafka(home, fixed_ports()) as kafka:
        yield kafka


def fixed_ports() -> tuple[int, int]:
    """Free ports below the kernel's ephemeral range: a client reconnecting to a dead broker's
    port from an ephemeral one can otherwise connect to itself, and hold the port."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    found = [p for p in random.sample(range(20000, min(low, 32000)), 200) if not port_in_use(p)]
    if len(found) >= 2:
        return found[0], found[1]
    raise AssertionError("no free ports below the ephemeral range")


def round_trips(count: int) -> list[dict[str, Any]]:
    """``count`` round trips of varied size and price over three accounts and two instruments;
    each key's entries and exits interleave, so FIFO decides which lots close."""
    events = []
    for n in range(count):
        account, instrument = ACCOUNTS[n % 3], INSTRUMENTS[n // 3 % 2]
        base = Decimal("5000.00") if instrument.startswith("ES") else Decimal("18000.00")
        tick = Decimal("0.25")
        entry = base + tick * (n % 17)
        exit_ = entry + tick * ((n * 7) % 11 - 5)
        side, other = ("buy", "sell") if n % 4 else ("sell", "buy")
        qty = 1 + n % 3
        minute, second = n // 60 % 60, n % 60
        hour = 14 + n // 3600
        events.append(
            execution(f"b-{n}-in", side, str(entry), quantity=qty, account=account,
                      instrument=instrument, commission=str(COMMISSION),
                      ts=f"2026-09-22T{hour}:{minute:02d}:{second:02d}Z")
        )  # fmt: skip
        events.append(
            execution(f"b-{n}-out", other, str(exit_), quantity=qty, account=account,
                      instrument=instrument, commission=str(COMMISSION),
                      ts=f"2026-09-22T{hour}:{minute:02d}:{second:02d}.5Z")
        )  # fmt: skip
    return events


def fifo_net(events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """The net P&L of each account and instrument by a plain FIFO of lots: the reference."""
    lots: dict[tuple[str, str], deque[list[Any]]] = defaultdict(deque)
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for e in events:
        key = (e["account"], e["instrument"])
        sign = 1 if e["side"] == "buy" else -1
        price, qty = Decimal(e["price"]), e["quantity"]
        point = spec_for(e["instrument"]).point_value
        net[key] -= Decimal(e["commission"])
        book = lots[key]
        while qty and book and (book[0][0] > 0) != (sign > 0):
            lot = book[0]
            closed = min(qty, abs(lot[0]))
            net[key] += (price - lot[1]) * closed * point * (1 if lot[0] > 0 else -1)
            lot[0] += closed * sign
            qty -= closed
            if lot[0] == 0:
                book.popleft()
        if qty:
            book.append([qty * sign, price])
    return dict(net)


def test_a_broker_killed_midstream_comes_back_and_every_trade_is_projected_once(
    broker: LocalKafka, services: Endpoints, tmp_path: Path
) -> None:
    settings = settings_for(
        services._replace(bootstrap_servers=broker.bootstrap), tmp_path, FILLSTREAM_PAPER="off"
    )
    migrate(settings)
    trades = 3000
    events = round_trips(trades)
    services_ = [
        ServiceProcess(settings, "bridge", settings.bridge_port),
        ServiceProcess(settings, "worker", settings.worker_port),
        ServiceProcess(settings, "project", settings.projector_port),
    ]
    failures: list[object] = []
    try:
        for service in services_:
            service.start()
        for service in services_[1:]:  # flowing, as a running operation's would be

            def ready(service: ServiceProcess = service) -> bool:
                return readiness(service.health_port)[0] == 200

            wait_for(
                ready,
                timeout=60,
                message=f"{service.name} never became ready:\n{service.log_tail()}",
            )

        def feed() -> None:
            for start in range(0, len(events), 100):
                status, body = post(settings, events[start : start + 100])
                if status != 202:
                    failures.append((status, body))

        feeder = threading.Thread(target=feed)
        feeder.start()
        time.sleep(1.5)  # the kill lands while executions flow, as an operator's would
        pid = int(broker.pid_path.read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: (
                not broker.is_running()
                and not port_in_use(broker.port)
                and not port_in_use(broker.controller_port)
            ),
            timeout=60,
        )
        broker.start()
        feeder.join(timeout=180)
        assert not feeder.is_alive() and not failures, failures

        def projected() -> int:
            return int(query(settings, "SELECT count(*) FROM trades")[0][0])

        wait_for(
            lambda: projected() >= trades,
            timeout=240,
            interval=1,
            message=f"only {projected()} of {trades} trades projected after the broker came "
            f"back:\n{services_[1].log_tail(30)}",
        )
        count, distinct = query(settings, "SELECT count(*), count(DISTINCT trade_id) FROM trades")[
            0
        ]
        assert count == distinct == trades
        rows = query(settings, "SELECT account, instrument, sum(net_pnl) FROM trades GROUP BY 1, 2")
        assert {(a, i): n for a, i, n in rows} == fifo_net(events)
    finally:
        for service in services_:
            service.stop()
            print(f"----- {service.name} log -----\n{service.log_tail(60)}")
