"""``fillstream notify``: deliver the alerts of ``derived.alerts`` to the channels of the rules
file (FILLSTREAM_ALERT_RULES), with /metrics, /healthz, /readyz and the live feed
/alerts/feed, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from datetime import UTC, datetime

from alerts.channels import channels_from_config
from alerts.feed import AlertFeed
from alerts.metrics import DELIVERIES
from alerts.notifier import DEFAULT_MAX_AGE, Notifier
from core.health import serve_health
from core.health_events import ERRORS_TOTAL, LAG_RECORDS, sample_sum
from core.health_reporter import HealthReporter
from core.kafka import ensure_topics
from core.lag import LAG, worst
from core.readiness import kafka_reachable, postgres_reachable
from core.settings import Settings
from core.shutdown import stop_on_signals
from domain.alerts.rules import EMPTY, load_rules
from projections.migrate import migrate
from schemas.codec import default_codec

log = logging.getLogger("fillstream.alerts")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fillstream notify", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="HTTP port (default FILLSTREAM_NOTIFY_PORT or 8790)"
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE,
        metavar="SECONDS",
        help="alerts whose event entered the log longer ago are recorded, not sent "
        f"(default {DEFAULT_MAX_AGE:g}: a replay of history notifies nobody)",
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    rules = load_rules(settings.alert_rules) if settings.alert_rules else EMPTY
    channels = channels_from_config(rules.channels, os.environ, feed_token=settings.token)
    if not channels:
        log.warning("no channels in FILLSTREAM_ALERT_RULES: alerts are recorded, not sent")
    ensure_topics(settings)
    migrate(settings)
    notifier = Notifier(
        settings, default_codec(), channels, repeat_seconds=rules.repeat_seconds,
        group_seconds=rules.group_seconds, max_age=args.max_age,
    )  # fmt: skip
    feeds = [channel for channel in channels.values() if isinstance(channel, AlertFeed)]
    stop = threading.Event()
    stop_on_signals(stop, name="notifier")
    port = args.port or settings.notify_port
    serve_health(
        settings.metrics_host, port, lambda: _ready(settings, notifier),
        routes={feed.path: feed.handle for feed in feeds},
    )  # fmt: skip
    reporter = HealthReporter(
        settings,
        default_codec(),
        service="notifier",
        port=port,
        checks=lambda: _ready(settings, notifier),
        figures=_figures,
        started_at=started_at,
    ).start()
    log.info("notifier running on port %d: %s", port, ", ".join(channels) or "no channels")
    try:
        notifier.run(stop)
    except BaseException:
        reporter.close()
        raise
    reporter.stop(timeout=2)
    return 0


def _figures() -> dict[str, float]:
    """The notifier's health figures: its lag, and deliveries that failed after every retry."""
    return {
        LAG_RECORDS: worst(LAG.collect()),
        ERRORS_TOTAL: sample_sum(DELIVERIES.collect(), "fillstream_alerts_deliveries_total",
                                 outcome="failed"),
    }  # fmt: skip


def _ready(settings: Settings, notifier: Notifier) -> dict[str, bool]:
    return {
        "kafka": kafka_reachable(settings),
        "postgresql": postgres_reachable(settings),
        "assigned": notifier.assigned,
        "caught up": worst(LAG.collect()) <= settings.ready_lag_records,
    }
