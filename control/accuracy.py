"""The nightly data-accuracy job: each projection verified against a fresh rebuild
(``projections.rebuild.verify``) and the imported Trades exports reconciled, each share published
as a health check of the ``accuracy`` service, which the ``accuracy`` alert rule reads (below
99.9 % by default).

``scheduled`` runs it in the projector process ``FILLSTREAM_ACCURACY_SCHEDULE`` minutes after
each trading day's session ends (``domain.accuracy``), once per day however many projector
processes run: a run is claimed in ``accuracy_runs`` first. ``fillstream verify --record`` runs
the same by hand.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, date, datetime

from psycopg import sql

from core.database import connect
from core.errors import ControlError, FillstreamError
from core.health_events import publish_check, service_checked
from core.settings import Settings
from domain.accuracy import due
from projections import PROJECTIONS, versions
from projections.parity import Parity
from projections.rebuild import verify

log = logging.getLogger("fillstream.accuracy")

IMPORTED = "imported-trades"
"""The name the reconciliation of imported Trades exports is recorded under."""

CHECK_EVERY_SECONDS = 60.0

_IMPORTED_SQL = """
SELECT count(*), count(*) FILTER (WHERE i.entry_price = d.entry_price
                                   AND i.exit_price = d.exit_price AND i.net_pnl = d.net_pnl)
FROM {table} i JOIN trades d ON d.trade_id = i.covered_by
WHERE i.source = 'import' AND i.voided AND i.covered_by IS NOT NULL
  AND NOT EXISTS (SELECT FROM {table} later WHERE later.trade_id = i.trade_id
                                              AND later.revision > i.revision)
"""


def imported_accuracy(settings: Settings) -> tuple[float, int, int]:
    """The share of covered imported trades that agree with the derived trade covering them
    (prices and net P&L), of how many, how many agree; 1.0 of none."""
    with connect(settings) as conn:
        table = versions.live(conn, "trades").table
        statement = sql.SQL(_IMPORTED_SQL).format(table=sql.Identifier(table))
        total, same = conn.execute(statement).fetchone() or (0, 0)
    return (1.0 if not total else same / total), total, same


def record(
    settings: Settings, name: str, share: float, rows: int, identical: int, started_at: datetime
) -> None:
    """Publish one accuracy as a health check of the ``accuracy`` service."""
    check = service_checked(
        service="accuracy",
        instance=f"{socket.gethostname()}|{name}",
        checks={"accuracy": share >= 1.0},
        figures={f"accuracy|{name}": share, f"accuracy_rows|{name}": float(rows),
                 f"accuracy_identical|{name}": float(identical)},
        interval_seconds=settings.health_interval_seconds,
        started_at=started_at,
        at=datetime.now(UTC),
    )  # fmt: skip
    if not publish_check(settings, check):
        raise ControlError(f"the accuracy of {name} did not reach Kafka's health topic")


def record_parity(settings: Settings, name: str, parity: Parity, started_at: datetime) -> None:
    """Publish a verification's accuracy; verifying ``trades`` adds the imported trades'."""
    rows = parity.identical + parity.only_old + parity.only_new + parity.changed
    record(settings, name, parity.accuracy, rows, parity.identical, started_at)
    if name == "trades":
        record(settings, IMPORTED, *imported_accuracy(settings), started_at)


def run(settings: Settings, stop: threading.Event) -> float:
    """Verify every projection and record each accuracy; the lowest share."""
    started_at = datetime.now(UTC)
    lowest = 1.0
    for projection in PROJECTIONS:
        if stop.is_set():
            break
        outcome = verify(settings, projection, stop=stop, say=log.info)
        if outcome.parity is not None:
            record_parity(settings, projection.name, outcome.parity, started_at)
            lowest = min(lowest, outcome.parity.accuracy)
    return lowest


def scheduled(
    settings: Settings, stop: threading.Event, every: float = CHECK_EVERY_SECONDS
) -> None:
    """Run the job when a trading day's run is due and this process claims it, until ``stop``.
    A failure is logged and the day left to the next run (a run never stops the projectors)."""
    minutes = settings.accuracy_schedule
    if minutes is None:
        return
    while not stop.is_set():
        try:
            day = _claim(settings, minutes)
            if day is not None:
                log.info("data accuracy: the run of %s", day)
                lowest = run(settings, stop)
                _finish(settings, day, lowest)
                log.info("data accuracy of %s: lowest %.4f%%", day, 100 * lowest)
        except (FillstreamError, OSError) as e:
            log.error("data accuracy: the run failed (%s); the next one is due tomorrow", e)
        stop.wait(every)


def _claim(settings: Settings, minutes: int) -> date | None:
    with connect(settings) as conn:
        last = conn.execute("SELECT max(trading_day) FROM accuracy_runs").fetchone()
        day = due(datetime.now(UTC), minutes, last[0] if last else None)
        if day is None:
            return None
        claimed = conn.execute(
            "INSERT INTO accuracy_runs (trading_day) VALUES (%s) ON CONFLICT DO NOTHING"
            " RETURNING trading_day",
            (day,),
        ).fetchone()
        conn.commit()
    return day if claimed else None


def _finish(settings: Settings, day: date, lowest: float) -> None:
    with connect(settings) as conn:
        conn.execute(
            "UPDATE accuracy_runs SET finished_at = now(), projections = %s, lowest = %s"
            " WHERE trading_day = %s",
            (len(PROJECTIONS), lowest, day),
        )
        conn.commit()
