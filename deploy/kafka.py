"""A single-node Apache Kafka (KRaft, broker and controller in one JVM) run from Maven jars."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException

from core import process as _process
from core.errors import ServiceError
from core.kafka import quiet_admin

_HERE = Path(__file__).resolve().parent / "kafka"
POM = _HERE / "pom.xml"
LOG4J2_CONFIG = _HERE / "log4j2.properties"

_SERVICE = "kafka"
_JAVA_MISSING = "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"


class LocalKafka:
    """One broker under ``home/"kafka"``; its data survives ``stop()`` and ``start()``."""

    def __init__(self, home: Path, port: int, controller_port: int, libs_dir: Path) -> None:
        self.home = home
        self.port = port
        self.controller_port = controller_port
        self.libs_dir = libs_dir
        self.root = home / "kafka"
        self.data_dir = self.root / "data"
        self.properties_path = self.root / "server.properties"
        self.pid_path = self.root / "kafka.pid"
        self.log_path = home / "logs" / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def resolve_jars(self) -> None:
        """Copy the pinned broker and its runtime dependencies into ``libs_dir`` (once)."""
        if any(self.libs_dir.glob("kafka_2.13-*.jar")):
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError(
                _SERVICE,
                "mvn not found: install Maven (apt-get install maven) to fetch the Kafka jars",
            )
        self.libs_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs_dir}", "-DincludeScope=runtime",
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(self.libs_dir.glob("kafka_2.13-*.jar")):
            output = _process.one_line(result.stdout + result.stderr) or "no output"
            raise ServiceError(_SERVICE, f"resolving Kafka's jars with Maven failed: {output}")

    def is_running(self) -> bool:
        pid = _process.read_pid(self.pid_path)
        return pid is not None and _process.pid_alive(pid, str(self.properties_path))

    def start(self, timeout: float = 90) -> None:
        """Start the broker unless ours already runs; return once it serves metadata."""
        if self.is_running():
            if _process.port_open(self.port):
                return
            self._wait_ready(timeout)  # ours, still starting
            return
        java = shutil.which("java")
        if java is None:
            raise ServiceError(_SERVICE, _JAVA_MISSING)
        self.resolve_jars()
        self._check_port(self.port, "FILLSTREAM_KAFKA_PORT")
        self._check_port(self.controller_port, "FILLSTREAM_KAFKA_CONTROLLER_PORT")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text(self._server_properties())
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(java)
        argv = [
            java, "-Xmx512m", "-Xms128m", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp", f"{self.libs_dir}/*", "kafka.Kafka", str(self.properties_path),
        ]  # fmt: skip
        pid = _process.spawn(argv, log_path=self.log_path, cwd=self.root)
        _process.write_pid(self.pid_path, pid)
        self._wait_ready(timeout)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the broker (a controlled shutdown), SIGKILL it after ``timeout`` s."""
        pid = _process.read_pid(self.pid_path)
        if pid is not None:
            _process.terminate(pid, timeout, str(self.properties_path))
        self.pid_path.unlink(missing_ok=True)

    def _check_port(self, port: int, setting: str) -> None:
        if _process.port_in_use(port):
            raise ServiceError(
                _SERVICE,
                f"port {port} on 127.0.0.1 is already in use: stop what holds it or set {setting}",
            )

    def _server_properties(self) -> str:
        broker, controller = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # topics come from the catalog with their partitions; never guessed by the broker
            "auto.create.topics.enable": "false",
        }
        lines = ["# Written by fillstream's LocalKafka on every start; edits are overwritten."]
        return "\n".join(lines + [f"{key}={value}" for key, value in settings.items()]) + "\n"

    def _format_storage(self, java: str) -> None:
        cluster_id = new_cluster_id()
        argv = [
            java, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}", "-cp", f"{self.libs_dir}/*",
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties_path),
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = _process.one_line(result.stdout + result.stderr) or "no output"
            raise ServiceError(_SERVICE, f"formatting storage in {self.data_dir} failed: {output}")

    def _wait_ready(self, timeout: float) -> None:
        admin = quiet_admin(self.bootstrap)

        def ready() -> bool:
            if not self.is_running() and not _process.wait_until(self.is_running, 1.0, 0.2):
                pid = _process.read_pid(self.pid_path)
                status = None if pid is None else _process.exit_status(pid)
                raise ServiceError(
                    _SERVICE,
                    f"the broker exited during start-up (status {status}); {self.log_path} "
                    "ends with: " + _process.one_line(_process.tail(self.log_path, 15)),
                )
            if not _process.port_open(self.port):
                return False
            try:
                admin.list_topics(timeout=2)
            except KafkaException:
                return False
            return True

        if not _process.wait_until(ready, timeout, interval=0.25):
            raise ServiceError(
                _SERVICE,
                f"not ready at {self.bootstrap} after {timeout:g}s; see {self.log_path}: "
                + _process.one_line(_process.tail(self.log_path, 5)),
            )


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: URL-safe base64 of a random UUID, no padding,
    never starting with '-' (the storage tool would read it as an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
