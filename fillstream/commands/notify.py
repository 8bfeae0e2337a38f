"""``fillstream notify``: deliver the alerts of ``derived.alerts`` to the channels of the rules
file (FILLSTREAM_ALERT_RULES), and the scheduled daily and weekly reports to those its
``[reports]`` names, with /metrics, /healthz, /readyz and the live feed /alerts/feed, until
SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import threading

from alerts.channels import channels_from_config
from alerts.feed import AlertFeed
from alerts.metrics import DELIVERIES, REPORTS
from alerts.notifier import DEFAULT_MAX_AGE, Notifier
from alerts.scheduled import ReportScheduler
from core.config_files import load_file
from core.health_events import ERRORS_TOTAL, LAG_RECORDS, sample_sum
from core.kafka import ensure_topics
from core.lag import LAG, worst
from core.readiness import kafka_reachable, postgres_reachable
from core.service import Daemon
from core.settings import Settings
from domain.alerts.rules import EMPTY, parse_rules
from projections.migrate import migrate
from schemas.codec import default_codec

log = logging.getLogger("fillstream.alerts")


def parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    daemon = Daemon("notifier")
    settings = daemon.settings
    rules = (
        load_file(settings.alert_rules, "FILLSTREAM_ALERT_RULES", parse_rules)
        if settings.alert_rules
        else EMPTY
    )
    channels = channels_from_config(rules.channels, os.environ, feed_token=settings.token)
    if not channels:
        log.warning("no channels in FILLSTREAM_ALERT_RULES: alerts are recorded, not sent")
    ensure_topics(settings)
    migrate(settings)
    notifier = Notifier(
        settings, default_codec(), channels, repeat_seconds=rules.repeat_seconds,
        group_seconds=rules.group_seconds, max_age=args.max_age,
    )  # fmt: skip
    scheduler = ReportScheduler(settings, rules.reports, channels)
    feeds = [channel for channel in channels.values() if isinstance(channel, AlertFeed)]
    daemon.handle_signals()
    port = args.port or settings.notify_port

    def checks() -> dict[str, bool]:
        ready = _ready(settings, notifier)
        if scheduler.wanted:
            ready["reports"] = reports.is_alive() and scheduler.healthy
        return ready

    daemon.serve_health(port, checks, routes={feed.path: feed.handle for feed in feeds})
    daemon.report(port=port, checks=checks, figures=_figures)
    log.info("notifier running on port %d: %s", port, ", ".join(channels) or "no channels")
    reports = threading.Thread(target=scheduler.run, args=(daemon.stop,), name="reports",
                               daemon=True)  # fmt: skip
    with daemon:
        reports.start()
        notifier.run(daemon.stop)
        reports.join(5)  # a report being sent is left pending: the next start sends it
    return daemon.finish()


def _figures() -> dict[str, float]:
    """The notifier's health figures: its lag, and deliveries of alerts and reports that failed
    after every retry."""
    return {
        LAG_RECORDS: worst(LAG.collect()),
        ERRORS_TOTAL: sample_sum(DELIVERIES.collect(), "fillstream_alerts_deliveries_total",
                                 outcome="failed")
        + sample_sum(REPORTS.collect(), "fillstream_reports_total", outcome="failed"),
    }  # fmt: skip


def _ready(settings: Settings, notifier: Notifier) -> dict[str, bool]:
    return {
        "kafka": kafka_reachable(settings),
        "postgresql": postgres_reachable(settings),
        "assigned": notifier.assigned,
        "caught up": worst(LAG.collect()) <= settings.ready_lag_records,
    }
