"""fillstream's own background processes: the bridge, the stream worker, the projector and the
notifier.

Each runs as ``python -m fillstream COMMAND`` in its own session, logs to
``home/logs/NAME.log`` and leaves its pid in ``home/run/NAME.pid``.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core import process as _process
from core.errors import ServiceError
from core.settings import Settings

SERVICES: tuple[str, ...] = ("bridge", "worker", "projector", "notifier", "api")

# service name -> (``fillstream`` subcommand, setting that holds its HTTP port)
_COMMANDS: dict[str, tuple[str, str]] = {
    "bridge": ("bridge", "FILLSTREAM_BRIDGE_PORT"),
    "worker": ("worker", "FILLSTREAM_WORKER_PORT"),
    "projector": ("project", "FILLSTREAM_PROJECTOR_PORT"),
    "notifier": ("notify", "FILLSTREAM_NOTIFY_PORT"),
    "api": ("api", "FILLSTREAM_API_PORT"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    url: str
    health: str  # "ok", or why the health check failed


def log_path(settings: Settings, name: str) -> Path:
    """Where a service (including ``kafka`` and ``postgres``) writes its log."""
    return settings.home / "logs" / f"{name}.log"


def pid_path(settings: Settings, name: str) -> Path:
    return settings.home / "run" / f"{name}.pid"


def local_bridge_url(settings: Settings) -> str:
    """Where this machine reaches the bridge: HTTPS with a certificate, on the address it binds
    (loopback when it binds every address)."""
    scheme = "http" if settings.bridge_tls_cert is None else "https"
    host = settings.bridge_host
    if host in ("0.0.0.0", "::"):  # every address: loopback is one of them
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.bridge_port}"


def health_url(settings: Settings, name: str) -> str:
    if name == "bridge":
        return f"{local_bridge_url(settings)}/healthz"
    return f"http://127.0.0.1:{_port(settings, name)}/healthz"


def start_service(settings: Settings, name: str) -> int:
    """Start ``name`` unless it already runs; its pid."""
    command, port_setting = _command(name)
    pid = _process.read_pid(pid_path(settings, name))
    if pid is not None and _process.pid_alive(pid, _marker(command)):
        return pid
    port = _port(settings, name)
    if _process.port_in_use(port):
        raise ServiceError(
            name,
            f"port {port} on 127.0.0.1 is already in use: stop what holds it or set {port_setting}",
        )
    pid = _process.spawn(
        [sys.executable, "-m", "fillstream", command],
        log_path=log_path(settings, name),
        env={**os.environ, **settings.to_env()},
    )
    _process.write_pid(pid_path(settings, name), pid)
    return pid


def stop_service(settings: Settings, name: str, timeout: float = 15) -> None:
    """SIGTERM the service, SIGKILL it after ``timeout`` seconds."""
    command, _ = _command(name)
    pid = _process.read_pid(pid_path(settings, name))
    if pid is not None:
        _process.terminate(pid, timeout, _marker(command))
    pid_path(settings, name).unlink(missing_ok=True)


def service_status(settings: Settings, name: str) -> ServiceStatus:
    command, _ = _command(name)
    pid = _process.read_pid(pid_path(settings, name))
    running = pid is not None and _process.pid_alive(pid, _marker(command))
    url = health_url(settings, name)
    problem = check_health(url) if running else "not running"
    return ServiceStatus(
        name=name, pid=pid if running else None, running=running, url=url, health=problem or "ok"
    )


def check_health(url: str, timeout: float = 1.0) -> str | None:
    """None when ``url`` answers 200, else why not (one line)."""
    try:
        context = _LIVENESS if url.startswith("https:") else None
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            status = int(response.status)
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"unreachable ({reason})"
    return None if status == 200 else f"HTTP {status}"


def _liveness_context() -> ssl.SSLContext:
    """Whether our own process answers, not whom to trust: its certificate is not checked (it
    may name only the address NinjaTrader uses, or be signed by a CA this machine lacks)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_LIVENESS = _liveness_context()


def wait_healthy(settings: Settings, name: str, timeout: float = 60) -> None:
    """Return once ``name`` answers its health check; fail early if it exits."""
    command, _ = _command(name)
    url = health_url(settings, name)
    log = log_path(settings, name)

    def healthy() -> bool:
        pid = _process.read_pid(pid_path(settings, name))
        if pid is None or not _process.pid_alive(pid, _marker(command)):
            raise ServiceError(name, f"exited during start-up; {log} ends with: {_tail(log)}")
        return check_health(url) is None

    if not _process.wait_until(healthy, timeout, interval=0.2):
        problem = check_health(url)
        raise ServiceError(
            name, f"{url} not healthy after {timeout:g}s ({problem}); {log} ends with: {_tail(log)}"
        )


def _tail(log: Path) -> str:
    return _process.one_line(_process.tail(log, 10))


def _command(name: str) -> tuple[str, str]:
    try:
        return _COMMANDS[name]
    except KeyError:
        expected = ", ".join(SERVICES)
        raise ServiceError(name, f"unknown service; expected one of {expected}") from None


def _marker(command: str) -> str:
    return f"-m fillstream {command}"


def _port(settings: Settings, name: str) -> int:
    ports = {
        "bridge": settings.bridge_port,
        "worker": settings.worker_port,
        "projector": settings.projector_port,
        "notifier": settings.notify_port,
        "api": settings.api_port,
    }
    _command(name)
    return ports[name]
