"""Running fillstream's own processes (bridge, worker, projector) for integration tests, and
talking to the bridge the way NinjaTrader or curl would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

from core.settings import PROJECT_ROOT, Settings
from tests.harness import wait_for


class ServiceProcess:
    """One ``python -m fillstream NAME`` child process, its log in the test's home."""

    def __init__(
        self, settings: Settings, name: str, health_port: int, args: tuple[str, ...] = ()
    ) -> None:
        self.settings = settings
        self.name = name
        self.health_port = health_port
        self.args = args
        self.log_path: Path = settings.home / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        env = {**os.environ, **self.settings.to_env()}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fillstream", self.name, *self.args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            self._healthy,
            timeout=60,
            interval=0.2,
            message=f"{self.name} not healthy:\n{self.log_tail()}",
        )
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/healthz", timeout=1
            ) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, no commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def post(
    settings: Settings,
    body: Any,
    *,
    token: str | None = None,
    content_type: str = "application/json",
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST to the bridge's /v1/events; returns (status, JSON body)."""
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{settings.bridge_url}/v1/events",
        data=data,
        method="POST",
        headers={
            "Content-Type": content_type,
            "Authorization": f"Bearer {token or settings.token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def execution(
    execution_id: str,
    side: str,
    price: str,
    *,
    quantity: int = 1,
    account: str = "Sim101",
    instrument: str = "NQ 12-26",
    ts: str = "2026-09-22T13:35:00Z",
    commission: str = "2.09",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "execution",
        "ts_event": ts,
        "source": "live",
        "producer": "tests",
        "execution_id": execution_id,
        "account": account,
        "instrument": instrument,
        "side": side,
        "quantity": quantity,
        "price": price,
        "commission": commission,
        "fees": "0",
        **extra,
    }


def query(
    settings: Settings, statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
        return conn.execute(statement, params).fetchall()


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """High watermark per partition of a catalog topic."""
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap_servers, "group.id": "tests-watermarks"}
    )
    try:
        name = settings.topic(topic)
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def readiness(port: int) -> tuple[int, dict[str, bool]]:
    """A process's ``/readyz``: its status and its checks."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:  # 503 with its checks
        return e.code, json.loads(e.read())


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
