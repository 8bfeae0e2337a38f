"""The whole local stack: Kafka, PostgreSQL, topics, migrations and fillstream's services."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable

from bridge.gate_config import load_rules
from bridge.tls import server_context
from core.kafka import ensure_topics
from core.settings import Settings
from deploy.kafka import LocalKafka
from deploy.postgres import LocalPostgres
from deploy.services import SERVICES, health_url, start_service, stop_service, wait_healthy
from domain.regimes import parse_classifiers
from fillstream.report import StackStatus, collect_status

Echo = Callable[[str], None]


def local_kafka(settings: Settings) -> LocalKafka:
    return LocalKafka(
        home=settings.home,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        libs_dir=settings.home / "kafka" / "libs",
    )


def local_postgres(settings: Settings) -> LocalPostgres:
    return LocalPostgres(home=settings.home, port=settings.pg_port)


def runs_local_kafka(settings: Settings) -> bool:
    """Whether this home's own broker is the one to use: none configured, or the configured one
    is exactly it (as after ``eval "$(fillstream env)"``)."""
    kafka = local_kafka(settings)
    return settings.local_kafka or (
        settings.bootstrap_servers == kafka.bootstrap
        and (settings.home / "kafka" / "data").exists()
    )


def runs_local_postgres(settings: Settings) -> bool:
    """Like ``runs_local_kafka``, for PostgreSQL."""
    postgres = local_postgres(settings)
    return settings.local_postgres or (
        settings.dsn == postgres.dsn and (settings.home / "postgres" / "data").exists()
    )


def ensure_token(settings: Settings) -> Settings:
    """``settings`` with a token, writing a new random one to ``token_path`` if there is none."""
    if settings.token is not None:
        return settings
    settings.home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)  # 32 characters
    fd = os.open(settings.token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(settings.token_path, 0o600)
    return dataclasses.replace(settings, token=token)


def up(settings: Settings, echo: Echo = print) -> Settings:
    """Start everything that is not running yet; the settings the services were started with."""
    parse_classifiers(settings.regime)  # the worker's FILLSTREAM_REGIME, before anything starts
    server_context(settings, settings.bridge_host)  # and whether the bridge may listen there
    if settings.gate_rules is not None:
        load_rules(settings.gate_rules)  # and the bridge's gate rules
    if runs_local_kafka(settings):
        kafka = local_kafka(settings)
        kafka.start()
        _line(echo, "kafka", "ready", kafka.bootstrap)
    else:
        _line(echo, "kafka", "using", f"{settings.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
    if runs_local_postgres(settings):
        postgres = local_postgres(settings)
        postgres.start()
        _line(echo, "postgres", "ready", postgres.dsn)
    else:
        _line(echo, "postgres", "using", "DATABASE_URL")
    had_token = settings.token is not None
    settings = ensure_token(settings)
    _line(echo, "token", "ready" if had_token else "new", str(settings.token_path))
    created = ensure_topics(settings)
    _line(echo, "topics", "ready", f"{len(created)} created in namespace {settings.namespace}")
    from projections.migrate import migrate  # owned by projections; imported when needed

    applied = migrate(settings)
    _line(echo, "migrate", "ready", ", ".join(applied) if applied else "up to date")
    pids = {name: start_service(settings, name) for name in SERVICES}
    for name in SERVICES:
        wait_healthy(settings, name, timeout=60)
        _line(echo, name, "ready", f"pid {pids[name]}  {health_url(settings, name)}")
    return settings


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop the services, then the local broker and database (external ones are left alone).

    The local runners of this home are stopped even when KAFKA_BOOTSTRAP_SERVERS or
    DATABASE_URL name them, as they do after ``eval "$(fillstream env)"``.
    """
    for name in reversed(SERVICES):
        stop_service(settings, name)
        _line(echo, name, "down", "")
    if runs_local_kafka(settings):
        local_kafka(settings).stop()
        _line(echo, "kafka", "down", "")
    if runs_local_postgres(settings):
        local_postgres(settings).stop()
        _line(echo, "postgres", "down", "")


def status(settings: Settings) -> StackStatus:
    return collect_status(settings)


def _line(echo: Echo, component: str, state: str, detail: str) -> None:
    echo(f"{component:<10} {state:<6} {detail}".rstrip())
