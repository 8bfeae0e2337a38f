"""Running fillstream: the local Kafka and PostgreSQL runners, the services and the whole stack."""

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
from fillstream.report import (
    GroupInfo,
    Reachability,
    StackStatus,
    TopicInfo,
    collect_status,
    render_table,
)
from fillstream.stack import down, ensure_token, local_kafka, local_postgres, status, up

__all__ = [
    "SERVICES",
    "GroupInfo",
    "LocalKafka",
    "LocalPostgres",
    "Reachability",
    "ServiceStatus",
    "StackStatus",
    "TopicInfo",
    "check_health",
    "collect_status",
    "down",
    "ensure_token",
    "find_bindir",
    "health_url",
    "local_kafka",
    "local_postgres",
    "log_path",
    "render_table",
    "service_status",
    "start_service",
    "status",
    "stop_service",
    "up",
    "wait_healthy",
]
