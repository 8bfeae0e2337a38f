"""A private PostgreSQL cluster under ``home/"postgres"``, run from the machine's server binaries.

PostgreSQL refuses to run as root; as root the cluster belongs to Debian's ``postgres`` system
user and every server command runs through ``runuser -u postgres --``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from core import process as _process
from core.errors import ServiceError

_SERVICE = "postgres"
_DATABASE = "fillstream"
_USER = "fillstream"
_SYSTEM_USER = "postgres"
_NOT_FOUND = (
    "PostgreSQL server binaries not found: run `make setup` as root to install Debian's "
    "postgresql package, or set DATABASE_URL"
)


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda p: _version_key(p.parent.name), reverse=True)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise ServiceError(_SERVICE, _NOT_FOUND)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class LocalPostgres:
    """One cluster listening on 127.0.0.1 and a socket inside ``home/"postgres"``."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.root = home / "postgres"
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_path = home / "logs" / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{_DATABASE}"

    def is_running(self) -> bool:
        pid = _process.read_pid(self.data_dir / "postmaster.pid")
        return pid is not None and _process.pid_alive(pid, str(self.data_dir))

    def start(self, timeout: float = 60) -> None:
        """Create the cluster if needed, start it unless it runs, and create the database."""
        if not self.is_running():
            bindir = find_bindir()
            if _process.port_in_use(self.port):
                raise ServiceError(
                    _SERVICE,
                    f"port {self.port} on 127.0.0.1 is already in use: stop what holds it "
                    "or set FILLSTREAM_PG_PORT",
                )
            self._prepare_dirs()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(bindir)
            self._pg_ctl_start(bindir, timeout)
        self._ensure_database(timeout)

    def stop(self, timeout: float = 30) -> None:
        """A fast shutdown: clients are disconnected, the cluster stays consistent."""
        if not self.is_running():
            return
        argv = [str(find_bindir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast"]
        self._run(argv + ["-w", "-t", str(int(timeout))], "stopping the cluster")

    def _prepare_dirs(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        if os.geteuid() != 0:
            return
        owner = _system_user()
        for path in (self.root, self.socket_dir, self.log_path):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        blocked = _first_unsearchable(self.root, owner)
        if blocked is not None:
            raise ServiceError(
                _SERVICE,
                f"the {_SYSTEM_USER} system user cannot enter {blocked}: run `chmod o+x {blocked}` "
                "or set FILLSTREAM_HOME to a directory it can reach",
            )

    def _initdb(self, bindir: Path) -> None:
        argv = [
            str(bindir / "initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", _USER,
            "-E", "UTF8", "--locale=C",
        ]  # fmt: skip
        self._run(argv, "initdb")

    def _pg_ctl_start(self, bindir: Path, timeout: float) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={shlex.quote(str(self.socket_dir))}"
        )
        argv = [
            str(bindir / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_path),
            "-w", "-t", str(int(timeout)), "-o", options,
        ]  # fmt: skip
        try:
            self._run(argv, "starting the cluster")
        except ServiceError as e:
            log = _process.one_line(_process.tail(self.log_path, 10))
            raise ServiceError(_SERVICE, f"{e.reason}; {self.log_path} ends with: {log}") from e

    def _run(self, argv: list[str], what: str) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _SYSTEM_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.root)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise ServiceError(_SERVICE, f"{what} failed: {_process.one_line(output)}")

    def _ensure_database(self, timeout: float) -> None:
        admin_dsn = f"postgresql://{_USER}@127.0.0.1:{self.port}/postgres"
        last_error: list[str] = ["no attempt"]

        def connected() -> bool:
            try:
                with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=2) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (_DATABASE,)
                    ).fetchone()
                    if exists is None:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_DATABASE))
                        )
                return True
            except psycopg.errors.DuplicateDatabase:
                return True  # created concurrently
            except psycopg.OperationalError as e:
                last_error[0] = str(e).strip()
                return False

        if not _process.wait_until(connected, timeout, interval=0.2):
            raise ServiceError(
                _SERVICE,
                f"cannot connect to 127.0.0.1:{self.port}: {_process.one_line(last_error[0])}",
            )


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        raise ServiceError(
            _SERVICE,
            f"running as root needs the {_SYSTEM_USER!r} system user: run `make setup` "
            "(apt-get install postgresql creates it), or run as an ordinary user",
        ) from None


def _first_unsearchable(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first directory from ``/`` down to ``path`` that ``user`` may not enter, if any."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for directory in [*reversed(path.parents), path]:
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None
