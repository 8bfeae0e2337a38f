"""Process plumbing shared by the local runners: detached spawn, pid files, ports, polling."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Children spawned by this interpreter, so a dead one is reaped (not mistaken for a live zombie)
# and its Popen is not garbage-collected while running.
_children: dict[int, subprocess.Popen[bytes]] = {}


_ended: dict[int, subprocess.Popen[bytes]] = {}
"""Spawned processes seen to have ended, for their exit status."""


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session, stdout and stderr appended to ``log_path``; its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc.pid


def exit_status(pid: int) -> int | None:
    """The exit status of a process this one spawned and saw end (negative: the signal that
    ended it); None when unknown."""
    child = _children.get(pid) or _ended.get(pid)
    return None if child is None else child.poll()


def pid_alive(pid: int, marker: str | None = None) -> bool:
    """True when ``pid`` runs and, if ``marker`` is given, its command line contains it."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _ended[pid] = _children.pop(pid)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not Path("/proc/self").exists():
        return True  # no procfs: trust the pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False  # exited between the checks
    if stat.rpartition(")")[2].split()[0] == "Z":
        return False  # a zombie waiting for a parent that never reaps it
    return marker is None or marker.encode() in cmdline


def read_pid(path: Path) -> int | None:
    """The pid on the first line of ``path`` (PostgreSQL's postmaster.pid has more lines)."""
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (FileNotFoundError, ValueError):
        return None


def write_pid(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def terminate(pid: int, timeout: float, marker: str | None = None) -> None:
    """SIGTERM the process group of ``pid``, wait up to ``timeout`` s, then SIGKILL it."""
    if not pid_alive(pid, marker):
        return
    _signal_group(pid, signal.SIGTERM)
    if wait_until(lambda: not pid_alive(pid, marker), timeout):
        return
    _signal_group(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid, marker), 10)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # spawned with start_new_session: pid is the group id
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something is bound to ``host:port`` (listening or not)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file, or a note that it does not exist."""
    try:
        with path.open(errors="replace") as f:
            return "".join(deque(f, maxlen=lines)).rstrip()
    except FileNotFoundError:
        return f"({path} does not exist)"


def one_line(text: str, limit: int = 600) -> str:
    """``text`` folded onto one line (for error messages), keeping its end when too long."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else "…" + flat[-limit:]
