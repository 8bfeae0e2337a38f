"""The deployment files under ``deploy/`` against the real tools: docker-compose validates and
resolves the compose file (offline, no Docker engine), promtool checks the compose Prometheus
configuration as the container sees it, amtool checks and routes the Alertmanager
configuration, systemd-analyze verifies the units. And against the code: every command is a
``fillstream`` subcommand, every ``FILLSTREAM_*`` variable a setting whose value passes
``Settings.from_env``, every mounted path is in the repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.tls import server_context
from core.settings import PROJECT_ROOT, Settings
from fillstream.cli import COMMANDS

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
RULES = DEPLOY / "prometheus" / "rules" / "fillstream.yml"
SYSTEMD = DEPLOY / "systemd"
SYSTEMD_ENV = SYSTEMD / "fillstream.env.example"
GRAFANA = DEPLOY / "grafana"
# the top-level packages, as pyproject.toml lists them for the build
PACKAGES = tuple(
    name.rstrip("*")
    for name in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
)

LONG_RUNNING = {"bridge": 8787, "worker": 8788, "project": 8789, "notify": 8790, "api": 8791}
"""The fillstream processes a deployment runs, with their default ports."""
PORT_SETTING = {
    "bridge": "FILLSTREAM_BRIDGE_PORT",
    "worker": "FILLSTREAM_WORKER_PORT",
    "project": "FILLSTREAM_PROJECTOR_PORT",
    "notify": "FILLSTREAM_NOTIFY_PORT",
    "api": "FILLSTREAM_API_PORT",
}
INSTALLED = {"/etc/fillstream/alerts.toml": DEPLOY / "alerts" / "alerts.toml"}
"""What the systemd install steps copy where (docs/operations/deployment.md)."""
NOT_SETTINGS = {"FILLSTREAM_GRAFANA_DB_PASSWORD": GRAFANA / "provisioning" / "datasources"}
"""FILLSTREAM_* variables read by another program, and where that program is told to."""
UNIT_HARDENING = {
    "Type": "simple",
    "User": "fillstream",
    "EnvironmentFile": "/etc/fillstream/fillstream.env",
    "Restart": "on-failure",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
}


def run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=env
    )


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    """docker-compose with nothing but PATH from the environment, and .env.example's values."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    result: subprocess.CompletedProcess[str] = run(
        "docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), *args, env=env
    )
    return result


@cache
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose resolves it: anchors merged, .env.example's values
    interpolated, relative paths made absolute."""
    result = compose("config")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = resolved()["services"]
    return found


def fillstream_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if service["image"].split(":")[0] == "fillstream"
    }


def subcommands(service: dict[str, Any]) -> list[str]:
    """The ``fillstream`` subcommands a service runs: its command after the image's
    ``fillstream`` entrypoint, or every ``fillstream X`` of a shell command."""
    command = service.get("command", [])
    if "entrypoint" not in service:
        return [command[0]]
    return re.findall(r"\bfillstream ([a-z][a-z-]*)", " ".join(command))


def mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of each volume: a bind mount's source is an absolute host path."""
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        yield source, target


def on_host(service: dict[str, Any], container_path: str) -> Path:
    """Where a path inside the service's container comes from, through its bind mounts."""
    for source, target in mounts(service):
        if source.startswith("/") and (container_path + "/").startswith(target + "/"):
            return Path(source + container_path.removeprefix(target))
    raise AssertionError(f"{container_path} is mounted from nowhere")


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as docker-compose and systemd read them (no quoting used)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def unit(path: Path) -> dict[str, list[str]]:
    """A systemd unit's keys (every value of a repeated key)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def units() -> list[Path]:
    return sorted(SYSTEMD.glob("*.service"))


def read_by_the_code(name: str) -> bool:
    """Whether a package's source names the variable as a string."""
    return any(
        f'"{name}"' in path.read_text()
        for package in PACKAGES
        for path in (PROJECT_ROOT / package).rglob("*.py")
    )


def project_version() -> str:
    version: str = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"][
        "version"
    ]
    return version


# -- the compose file ------------------------------------------------------------------------


def test_docker_compose_validates_the_file_and_requires_the_secrets() -> None:
    checked = compose("config", "-q")
    assert checked.returncode == 0, checked.stderr
    bare = run("docker-compose", "-f", str(COMPOSE), "config", "-q", env={"PATH": "/usr/bin:/bin"})
    assert bare.returncode != 0  # no password has a default
    assert "POSTGRES_PASSWORD" in bare.stderr


def test_the_deployment_runs_every_process_with_a_real_subcommand() -> None:
    assert 'ENTRYPOINT ["fillstream"]' in DOCKERFILE.read_text()
    by_service = {name: subcommands(s) for name, s in fillstream_services().items()}
    assert by_service["init"] == ["migrate", "topics"]
    assert sorted(c for cs in by_service.values() for c in cs) == sorted(
        ["migrate", "topics", *LONG_RUNNING]
    )
    for name, commands in by_service.items():
        assert commands and set(commands) <= set(COMMANDS), (name, commands)
        if name != "init":
            assert services()[name]["depends_on"]["init"]["condition"] == (
                "service_completed_successfully"
            )
    assert services()["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert services()["init"]["restart"] == "no"


def test_each_process_is_checked_on_healthz_at_its_own_port() -> None:
    for name, service in fillstream_services().items():
        if name == "init":
            continue
        (command,) = subcommands(service)
        port = int(service["environment"][PORT_SETTING[command]])
        assert port == LONG_RUNNING[command]
        assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/healthz", name
        assert any(p.endswith(f":{port}:{port}/tcp") for p in service["ports"]), name
        host = service["environment"].get("FILLSTREAM_BRIDGE_HOST" if command == "bridge"
                                          else "FILLSTREAM_METRICS_HOST")  # fmt: skip
        assert host == "0.0.0.0", f"{name} is unreachable from the other containers"


def compose_variables() -> dict[str, str]:
    """Every FILLSTREAM_* variable the deployment files name, with where."""
    found = {}
    for path in [COMPOSE, ENV_EXAMPLE, SYSTEMD_ENV, *units()]:
        for name in re.findall(r"\b(FILLSTREAM_[A-Z_]+)\b", path.read_text()):
            found[name] = path.name
    return found


def test_every_fillstream_variable_is_a_setting_or_named_by_its_reader() -> None:
    named = compose_variables()
    assert {"FILLSTREAM_TOKEN", "FILLSTREAM_METRICS_HOST", "FILLSTREAM_ALERT_RULES"} <= set(named)
    for name, where in named.items():
        if name in NOT_SETTINGS:
            readers = NOT_SETTINGS[name].rglob("*.yml")
            assert any(f"${{{name}}}" in p.read_text() for p in readers), name
        else:
            assert read_by_the_code(name), f"{where} names {name}, which nothing reads"


def test_each_process_environment_passes_the_settings(tmp_path: Path) -> None:
    for name, service in fillstream_services().items():
        environment = {k: str(v) for k, v in service["environment"].items()}
        if "FILLSTREAM_ALERT_RULES" in environment:
            rules = on_host(service, environment["FILLSTREAM_ALERT_RULES"])
            environment["FILLSTREAM_ALERT_RULES"] = str(rules)
        environment["FILLSTREAM_HOME"] = str(tmp_path)  # a volume of the container
        settings = Settings.from_env(environment)
        assert settings.kafka_bootstrap_servers == "kafka:9092", name
        assert settings.dsn.endswith("@postgres:5432/fillstream"), name
        if subcommands(service) in (["worker"], ["notify"]):
            assert settings.alert_rules is not None, f"{name} runs without alert rules"
        if subcommands(service) == ["bridge"]:
            assert settings.require_token()
            assert server_context(settings, settings.bridge_host) is None  # may listen, plainly


def test_images_are_pinned_and_kafka_is_the_tested_broker() -> None:
    for name, service in services().items():
        image, _, tag = service["image"].rpartition(":")
        assert image and re.search(r"\d", tag) and tag != "latest", (name, service["image"])
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert kafka_version and services()["kafka"]["image"] == f"apache/kafka:{kafka_version[1]}"
    assert {s["image"] for s in fillstream_services().values()} == {
        f"fillstream:{project_version()}"
    }
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", DOCKERFILE.read_text(), re.MULTILINE)
    named = {stage for _, stage in stages if stage}
    bases = [image for image, _ in stages if image not in named]
    assert bases and all(re.search(r":\d+\.\d+\.\d+", b) for b in bases), (
        f"pin the base images' versions: {bases}"
    )


def test_published_ports_bind_localhost_only() -> None:
    published = [(n, p) for n, s in services().items() for p in s.get("ports", [])]
    assert len(published) == len(services()) - 1  # all but the one-shot init
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), (name, port)


def test_mounted_paths_are_in_the_repository_and_volumes_declared() -> None:
    declared = set(resolved()["volumes"])
    used = set()
    for name, service in services().items():
        for source, target in mounts(service):
            if source.startswith("/"):
                path = Path(source)
                assert path.is_relative_to(PROJECT_ROOT) and path.exists(), (name, source)
            else:
                assert source in declared, (name, source)
                used.add(source)
            assert target.startswith("/"), (name, target)
    assert used == declared


def test_the_dockerfile_copies_every_package() -> None:
    text = DOCKERFILE.read_text()
    copied = {m[0] for m in re.findall(r"^COPY (\S+)( \S+)*$", text, re.MULTILINE)}
    sources = set()
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        if not line.startswith("--from="):  # from an earlier stage of the build
            sources |= set(line.split()[:-1])
    assert copied and all((PROJECT_ROOT / s).exists() for s in sources), sources
    top = set(PACKAGES)
    assert top <= sources, f"the image misses {sorted(top - sources)}"


# -- Grafana ---------------------------------------------------------------------------------


def test_grafana_is_provisioned_with_the_dashboards_and_the_same_data_sources() -> None:
    grafana = services()["grafana"]
    targets = {target: Path(source) for source, target in mounts(grafana)}
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "fillstream.yml").read_text()
    )
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert targets[dashboards_path] == GRAFANA / "dashboards"
    assert (
        targets["/etc/grafana/provisioning/dashboards"] == GRAFANA / "provisioning" / "dashboards"
    )
    compose_sources = yaml.safe_load(
        targets["/etc/grafana/provisioning/datasources/fillstream.yml"].read_text()
    )["datasources"]
    local_sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "fillstream.yml").read_text()
    )["datasources"]

    def identity(sources: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(s["name"], s["uid"], s["type"]) for s in sources}

    assert identity(compose_sources) == identity(local_sources)
    for path in (GRAFANA / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] in {s["uid"] for s in compose_sources}
    by_type = {s["type"]: s for s in compose_sources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    postgres = by_type["grafana-postgresql-datasource"]
    assert postgres["url"] == "postgres:5432"
    assert postgres["secureJsonData"]["password"] == "${FILLSTREAM_GRAFANA_DB_PASSWORD}"
    assert grafana["environment"]["FILLSTREAM_GRAFANA_DB_PASSWORD"]
    # the read-only login is created, with that password, by the postgres container's init
    init = on_host(services()["postgres"], "/docker-entrypoint-initdb.d/10-grafana-reader.sh")
    assert f"ROLE {postgres['user']} " in init.read_text()
    assert services()["postgres"]["environment"]["FILLSTREAM_GRAFANA_DB_PASSWORD"]


# -- Prometheus and Alertmanager -------------------------------------------------------------


def test_the_compose_prometheus_config_passes_promtool_as_the_container_sees_it(
    tmp_path: Path,
) -> None:
    prometheus = services()["prometheus"]
    for source, target in mounts(prometheus):
        if source.startswith("/"):
            (tmp_path / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / target.lstrip("/")).symlink_to(source)
    config = "/etc/prometheus/prometheus.yml"
    assert f"--config.file={config}" in prometheus["command"]
    checked = run("promtool", "check", "config", str(tmp_path / config.lstrip("/")))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(alerting_rules())} rules found" in checked.stdout
    document = yaml.safe_load(on_host(prometheus, config).read_text())
    scraped = {
        job["job_name"]: target
        for job in document["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = {}
    for name, service in fillstream_services().items():
        if name != "init":
            (command,) = subcommands(service)
            job = "fillstream-projector" if command == "project" else f"fillstream-{command}"
            expected[job] = f"{name}:{service['environment'][PORT_SETTING[command]]}"
    assert scraped == expected
    (alertmanagers,) = document["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert any(p.endswith(":9093:9093/tcp") for p in services()["alertmanager"]["ports"])


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = run("amtool", *args)
    return result


def receivers_of(*labels: str) -> list[str]:
    routed = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert routed.returncode == 0, routed.stderr
    return routed.stdout.strip().split(",")


def test_alertmanager_config_passes_amtool_and_routes_by_severity() -> None:
    checked = amtool("check-config", str(ALERTMANAGER))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert receivers_of("alertname=FillstreamProcessDown", "severity=critical") == [
        "pager",
        "email",
    ]
    assert receivers_of("alertname=FillstreamConsumerLagHigh", "severity=warning") == ["email"]
    assert receivers_of("alertname=Other") == ["email"]
    config = yaml.safe_load(ALERTMANAGER.read_text())
    route = config["route"]
    assert {"alertname", "instance"} <= set(route["group_by"]) and route["repeat_interval"]
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert set(inhibit["equal"]) == {"alertname", "instance"}
    mounted = on_host(services()["alertmanager"], "/etc/alertmanager/alertmanager.yml")
    assert mounted == ALERTMANAGER


def test_alertmanager_reads_credentials_only_from_the_mounted_secrets() -> None:
    text = ALERTMANAGER.read_text()
    assert not re.search(r"^\s*(routing_key|service_key|smtp_auth_password|api_key):", text, re.M)
    files = re.findall(r"_file: (\S+)", text)
    assert files
    secrets = on_host(services()["alertmanager"], "/etc/alertmanager/secrets")
    assert secrets == COMPOSE_DIR / "secrets"
    listed = (secrets / "README.md").read_text()
    for path in files:
        assert path.startswith("/etc/alertmanager/secrets/")
        assert f"`{Path(path).name}`" in listed, f"{path} is not explained in secrets/README.md"
    ignored = run("git", "check-ignore", "-q", str(secrets / "smtp-password"), cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, "secrets/ must be git-ignored"


def alerting_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_every_alerting_rule_carries_a_routed_severity() -> None:
    rules = alerting_rules()
    assert len(rules) >= 7 and all("alert" in rule for rule in rules)
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]


# -- systemd ---------------------------------------------------------------------------------


def test_the_units_run_the_five_processes_hardened() -> None:
    by_command = {}
    for path in units():
        keys = unit(path)
        (exec_start,) = keys["ExecStart"]
        binary, command = exec_start.split()
        assert binary == "/opt/fillstream/venv/bin/fillstream", path.name
        assert command in COMMANDS and path.name == f"fillstream-{command}.service"
        by_command[command] = keys
        for key, value in UNIT_HARDENING.items():
            assert keys.get(key) == [value], (path.name, key)
        home = env_file(SYSTEMD_ENV)["FILLSTREAM_HOME"]
        assert home in keys["ReadWritePaths"], path.name
        assert keys["WantedBy"] == ["fillstream.target"] and keys["PartOf"] == ["fillstream.target"]
    assert set(by_command) == set(LONG_RUNNING)
    target = unit(SYSTEMD / "fillstream.target")
    assert set(target["Wants"][0].split()) == {p.name for p in units()}


def test_systemd_analyze_verifies_each_unit(tmp_path: Path) -> None:
    fillstream = shutil.which("fillstream") or str(PROJECT_ROOT / ".venv" / "bin" / "fillstream")
    assert Path(fillstream).is_file()
    copies = []
    for path in [*units(), SYSTEMD / "fillstream.target"]:
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace("/opt/fillstream/venv/bin/fillstream", fillstream))
        copies.append(str(copy))
    verified = run("systemd-analyze", "verify", *copies)
    assert verified.returncode == 0, verified.stderr
    assert "fillstream" not in verified.stderr, verified.stderr  # warnings about our units
    broken = tmp_path / "fillstream-broken.service"
    broken.write_text(Path(copies[0]).read_text().replace(fillstream, str(tmp_path / "missing")))
    assert run("systemd-analyze", "verify", str(broken)).returncode != 0  # the check can fail


def test_the_systemd_env_example_passes_the_settings() -> None:
    environment = env_file(SYSTEMD_ENV)
    environment["FILLSTREAM_ALERT_RULES"] = str(INSTALLED[environment["FILLSTREAM_ALERT_RULES"]])
    settings = Settings.from_env(environment)
    assert str(settings.home) == "/var/lib/fillstream"
    assert not settings.local_kafka and not settings.local_postgres
    assert settings.require_token() and settings.alert_rules is not None
    ports = {PORT_SETTING[c]: p for c, p in LONG_RUNNING.items()}
    assert {k: int(environment[k]) for k in ports} == ports


@pytest.mark.parametrize("path", [ENV_EXAMPLE, SYSTEMD_ENV])
def test_the_examples_hold_placeholders_not_secrets(path: Path) -> None:
    for key, value in env_file(path).items():
        if re.search(r"PASSWORD|TOKEN|SECRET", key):
            assert "change-me" in value, (path.name, key)
    assert "change-me" in env_file(path).get("DATABASE_URL", "change-me")
