"""Running fillstream: the local Kafka and PostgreSQL runners, the services, backups and the
deployment files (compose, systemd, Prometheus, Alertmanager, Grafana)."""

from deploy.kafka import LocalKafka
from deploy.postgres import LocalPostgres, find_bindir
from deploy.services import (
    SERVICES,
    ServiceStatus,
    check_health,
    health_url,
    log_path,
    service_status,
    start_service,
    stop_service,
    wait_healthy,
)

__all__ = [
    "SERVICES",
    "LocalKafka",
    "LocalPostgres",
    "ServiceStatus",
    "check_health",
    "find_bindir",
    "health_url",
    "log_path",
    "service_status",
    "start_service",
    "stop_service",
    "wait_healthy",
]
