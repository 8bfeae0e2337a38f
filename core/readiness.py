"""The checks ``/readyz`` shares between processes: can Kafka and PostgreSQL be reached now."""

from __future__ import annotations

import psycopg
from confluent_kafka import KafkaException

from core.kafka import admin_client
from core.settings import Settings


def kafka_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        admin_client(settings).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


def postgres_reachable(settings: Settings, timeout: int = 2) -> bool:
    try:
        with psycopg.connect(settings.dsn, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
