"""The commands a person types, end to end: ``fillstream up`` (twice), ``status``, ``env``,
``demo``, ``down`` — on a stack of its own, with the local Kafka and PostgreSQL runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.settings import PROJECT_ROOT
from tests.fixtures.services import KAFKA_LIBS, free_ports, temporary_home

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env() -> Iterator[dict[str, str]]:
    with temporary_home() as home:
        (home / "kafka").mkdir()
        (home / "kafka" / "libs").symlink_to(KAFKA_LIBS)  # the jars `make setup` resolved
        ports = free_ports(7)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "FILLSTREAM_TOKEN")
        }
        env.update(
            FILLSTREAM_HOME=str(home),
            FILLSTREAM_KAFKA_PORT=str(ports[0]),
            FILLSTREAM_KAFKA_CONTROLLER_PORT=str(ports[1]),
            FILLSTREAM_PG_PORT=str(ports[2]),
            FILLSTREAM_BRIDGE_PORT=str(ports[3]),
            FILLSTREAM_WORKER_PORT=str(ports[4]),
            FILLSTREAM_PROJECTOR_PORT=str(ports[5]),
            FILLSTREAM_API_PORT=str(ports[6]),
        )
        try:
            yield env
        finally:
            fillstream(env, "down", check=False)


def fillstream(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "fillstream", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"fillstream {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def test_up_status_env_demo_down(stack_env: dict[str, str]) -> None:
    first = fillstream(stack_env, "up")
    assert "kafka" in first.stdout and "projector" in first.stdout
    token_file = Path(stack_env["FILLSTREAM_HOME"]) / "token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    # the token is printed once, in the dashboard's login URL (as Jupyter prints its own)
    api = f"http://127.0.0.1:{stack_env['FILLSTREAM_API_PORT']}"
    login = f"dashboard: {api}/login?token={token}"
    assert login in first.stdout.splitlines()
    assert (first.stdout + first.stderr).count(token) == 1

    pids = {
        s["name"]: s["pid"]
        for s in json.loads(fillstream(stack_env, "status", "--json").stdout)["services"]
    }
    fillstream(stack_env, "up")  # idempotent: nothing restarted
    status = json.loads(fillstream(stack_env, "status", "--json").stdout)
    assert {s["name"]: s["pid"] for s in status["services"]} == pids
    assert status["broker"]["reachable"] and status["database"]["reachable"]
    assert {"fillstream.raw.executions", "fillstream.derived.trades"} <= {
        t["name"] for t in status["topics"]
    }

    exports = fillstream(stack_env, "env").stdout
    assert f"export FILLSTREAM_TOKEN={token}" in exports
    assert (
        f"FILLSTREAM_BRIDGE_URL=http://127.0.0.1:{stack_env['FILLSTREAM_BRIDGE_PORT']}" in exports
    )

    demo = fillstream(stack_env, "demo", "--minutes", "120", "--timeout", "90")
    assert "trades" in demo.stdout
    again = fillstream(
        stack_env, "demo", "--minutes", "120", "--timeout", "90"
    )  # same seed: deduplicated
    assert again.returncode == 0

    dsn = next(line.split("=", 1)[1] for line in exports.splitlines() if "DATABASE_URL=" in line)
    trades = trade_count(dsn)
    assert trades > 5

    # the read API `up` started serves them, with the token only
    assert f"FILLSTREAM_API_URL={api}" in exports
    assert fillstream(stack_env, "dashboard", "--url").stdout == f"{api}/login?token={token}\n"
    assert fillstream(stack_env, "dashboard").stdout.splitlines() == [login]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{api}/api/trades", timeout=10)
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{api}/api/trades?source=demo&limit=1000", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert len(json.loads(response.read())["items"]) == trades

    # after `eval "$(fillstream env)"` the shell points at the local stack; down still stops it
    exported = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines())
    evaluated = {**stack_env, **{k: v.strip("'") for k, v in exported.items()}}
    down = fillstream(evaluated, "down")
    assert "kafka      down" in down.stdout and "postgres   down" in down.stdout
    assert fillstream(stack_env, "status", check=False).returncode == 1
    assert "kafka      ready" in fillstream(evaluated, "up").stdout  # and up starts them again
    fillstream(evaluated, "down")
    restarted = fillstream(stack_env, "up")  # the log and the tables survive down/up
    assert "0 created" in restarted.stdout
    assert "up to date" in restarted.stdout
    assert trade_count(dsn) == trades


def trade_count(dsn: str) -> int:
    """The live trades: the demo waits for its own, while the paper trades of its signals may
    still be on their way (and may arrive after a restart)."""
    with psycopg.connect(dsn.strip("'")) as conn:
        query = "SELECT count(*) FROM fillstream.trades WHERE source <> 'paper'"
        row = conn.execute(query).fetchone()
        assert row is not None  # count(*) always answers one row
        return int(row[0])
