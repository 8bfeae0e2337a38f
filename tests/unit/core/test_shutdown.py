"""``core.shutdown``: SIGTERM stops a process within its grace period even when its main
thread never returns to the interpreter, and a second signal ends it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from core.settings import PROJECT_ROOT

BLOCKED = """
import threading, sys
from core.shutdown import stop_on_signals
stop = threading.Event()
stop_on_signals(stop, name="blocked", grace={grace})
print("ready", flush=True)
lock = threading.Lock()
lock.acquire()
lock.acquire()  # a main thread that never comes back from waiting
"""

POLITE = """
import threading, sys
from core.shutdown import stop_on_signals
stop = threading.Event()
stop_on_signals(stop, name="polite", grace=30)
print("ready", flush=True)
stop.wait()
print("stopping", flush=True)
if {linger}:
    threading.Event().wait(60)  # a slow clean-up, cut short by a second signal
"""


def started(code: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_a_blocked_process_is_ended_when_its_grace_period_is_over() -> None:
    process = started(BLOCKED.format(grace=1.5))
    asked = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    took = time.monotonic() - asked
    assert process.returncode == 1
    assert 1.4 <= took < 5, took
    assert "blocked: did not stop within 1.5 s; exiting" in err
    assert "Current thread" in err or "Thread 0x" in err  # its stacks, to see where it hung


def test_a_process_that_honours_stop_exits_by_itself() -> None:
    process = started(POLITE.format(linger=False))
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0 and out == "stopping\n"


def test_a_second_signal_ends_a_slow_stop_at_once() -> None:
    process = started(POLITE.format(linger=True))
    process.send_signal(signal.SIGTERM)
    assert process.stdout is not None and process.stdout.readline() == "stopping\n"
    asked = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 1 and time.monotonic() - asked < 5
    assert "a second signal; exiting now" in err
