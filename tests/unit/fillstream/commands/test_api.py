"""``fillstream api`` and ``fillstream dashboard`` before any service: the read API binds
loopback unless told otherwise, in one line naming the setting; the login URL carries the
token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT, Settings
from fillstream.commands.dashboard import login_url


def fillstream(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILLSTREAM_")}
    env |= {"FILLSTREAM_HOME": str(tmp_path), "FILLSTREAM_TOKEN": "t" * 24, **environ}
    return subprocess.run([sys.executable, "-m", "fillstream", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_the_api_refuses_an_address_off_loopback_without_insecure_bind(tmp_path: Path) -> None:
    done = fillstream(tmp_path, "api", FILLSTREAM_API_HOST="0.0.0.0")
    assert done.returncode != 0
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        "fillstream api: configuration error: FILLSTREAM_API_HOST is '0.0.0.0', not a loopback"
    )


def test_the_login_url_carries_the_token_and_reaches_the_api_on_this_machine(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {
            "FILLSTREAM_HOME": str(tmp_path),
            "FILLSTREAM_TOKEN": "a+b/c" * 5,
            "FILLSTREAM_API_HOST": "0.0.0.0",
            "FILLSTREAM_API_PORT": "9001",
        }
    )
    assert login_url(settings) == "http://127.0.0.1:9001/login?token=" + "a%2Bb%2Fc" * 5
    printed = fillstream(tmp_path, "dashboard", "--url", FILLSTREAM_API_PORT="9002")
    assert printed.stdout == f"http://127.0.0.1:9002/login?token={'t' * 24}\n"
    down = fillstream(tmp_path, "dashboard", FILLSTREAM_API_PORT="9")  # nothing listens there
    assert down.returncode == 1 and "does not answer" in down.stderr
