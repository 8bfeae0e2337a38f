"""The uptime views on hand-written health checks with known answers, checked against a small
computation of their own in Python; and a rebuild of the uptime projection from the log, after
which the views read the new version and say the same."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from psycopg import sql

from core.health_events import service_checked, stopping_checks
from core.kafka import producer_config
from core.settings import Settings
from projections import SERVICE_CHECKS
from projections.migrate import migrate
from projections.projector import Projector
from projections.rebuild import log_end
from schemas.codec import default_codec
from tests.fixtures.pipeline import query

pytestmark = pytest.mark.integration

SECOND = timedelta(seconds=1)

Span = tuple[str, str, str, datetime, datetime]
"""(service, instance, state, start, end)"""
Periods = dict[tuple[str, str, date], dict[str, Any]]
"""A row (or its figures) by service, instance and period."""


@dataclass(frozen=True, slots=True)
class Check:
    service: str
    instance: str
    at: datetime
    healthy: bool = True
    stopping: bool = False
    interval: int = 30


def every(service: str, instance: str, start: str, end: str, step: int = 30,
          **kwargs: Any) -> Iterator[Check]:  # fmt: skip
    """A check every ``step`` seconds from ``start`` up to (not including) ``end``."""
    at, until = datetime.fromisoformat(start), datetime.fromisoformat(end)
    while at < until:
        yield Check(service, instance, at, **kwargs)
        at += step * SECOND


def scenario() -> list[Check]:
    checks: list[Check] = []
    # alpha: 10 healthy checks of 30 s, no check for 60 s, healthy to the end of the day, then
    # a clean stop at midnight
    checks += every("alpha", "a:1", "2026-03-10T00:00:00+00:00", "2026-03-10T00:05:00+00:00")
    checks += every("alpha", "a:1", "2026-03-10T00:06:00+00:00", "2026-03-11T00:00:00+00:00")
    checks.append(Check("alpha", "a:1", datetime(2026, 3, 11, tzinfo=UTC), healthy=False,
                        stopping=True))  # fmt: skip
    # beta: first checked at noon; unhealthy from 18:00 to 19:00; silent from midnight on
    checks += every("beta", "b:1", "2026-03-10T12:00:00+00:00", "2026-03-10T18:00:00+00:00")
    checks += every("beta", "b:1", "2026-03-10T18:00:00+00:00", "2026-03-10T19:00:00+00:00",
                    healthy=False)  # fmt: skip
    checks += every("beta", "b:1", "2026-03-10T19:00:00+00:00", "2026-03-11T00:00:00+00:00")
    # gamma: checks every 30 s that say the next is due in 60: each is cut short by the next;
    # the last one covers 30 s of the next day
    checks += every("gamma", "g:1", "2026-03-10T00:00:00+00:00", "2026-03-11T00:00:00+00:00",
                    interval=60)  # fmt: skip
    # two instances of one service for all of February, unhealthy for 12,000 s (meets 99.5 %)
    # and 12,100 s (misses it)
    for instance, outage in (("w:1", 12_000), ("w:2", 12_100)):
        down_from = datetime(2026, 2, 14, 9, tzinfo=UTC)
        down_to = down_from + outage * SECOND
        checks += every("worker", instance, "2026-02-01T00:00:00+00:00", down_from.isoformat())
        checks += every("worker", instance, down_from.isoformat(), down_to.isoformat(),
                        step=20, interval=20, healthy=False)  # fmt: skip
        checks += every("worker", instance, down_to.isoformat(), "2026-03-01T00:00:00+00:00")
    return checks


def spans(checks: Sequence[Check], now: datetime) -> Iterator[Span]:
    """Every stretch of time in one state, by a walk of each instance's checks: a check covers
    its interval, cut short by the next check."""
    by_instance: dict[tuple[str, str], list[Check]] = defaultdict(list)
    for check in checks:
        by_instance[(check.service, check.instance)].append(check)
    for (service, instance), mine in by_instance.items():
        mine.sort(key=lambda c: c.at)
        for n, check in enumerate(mine):
            following = mine[n + 1].at if n + 1 < len(mine) else now
            if check.stopping:
                yield service, instance, "stopped", check.at, following
                continue
            covered = min(check.at + check.interval * SECOND, following)
            yield service, instance, "up" if check.healthy else "unhealthy", check.at, covered
            if following > covered:
                yield service, instance, "silent", covered, following


def next_period(start: datetime, unit: str) -> datetime:
    if unit == "day":
        return start + timedelta(days=1)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def period_of(moment: datetime, unit: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if unit == "day" else day.replace(day=1)


def expected(checks: Sequence[Check], unit: str, now: datetime) -> Periods:
    """What ``uptime_daily`` or ``uptime_monthly`` should say, computed here."""
    found: Periods = defaultdict(lambda: defaultdict(int))
    for service, instance, state, start, end in spans(checks, now):
        period = period_of(start, unit)
        while period < end:
            following = next_period(period, unit)
            piece = min(end, following) - max(start, period)
            row = found[(service, instance, period.date())]
            row[state] += piece // timedelta(microseconds=1)
            row["observed"] += piece // timedelta(microseconds=1)
            period = following
    for check in checks:
        row = found[(check.service, check.instance, period_of(check.at, unit).date())]
        row["checks"] += 1
        row["unhealthy_checks"] += not check.healthy and not check.stopping
        row["stops"] += check.stopping
    return found


def write(settings: Settings, checks: Sequence[Check]) -> None:
    """The checks, straight into the live table of the uptime projection."""
    with psycopg.connect(settings.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
        with conn.cursor().copy(
            "COPY service_checks_v1 (service, instance, ts_event, healthy, checks, figures,"
            " interval_seconds, started_at, event_id, kafka_topic, kafka_partition,"
            " kafka_offset, ts_ingested) FROM STDIN"
        ) as copy:
            for n, c in enumerate(checks):
                healthy = {"kafka": c.healthy}
                copy.write_row((c.service, c.instance, c.at, c.healthy,
                                json.dumps(stopping_checks() if c.stopping else healthy), "{}",
                                c.interval, c.at, f"e{n}", "health", 0, n, c.at))  # fmt: skip


def seconds(micros: int) -> Decimal:
    return Decimal(micros) / 1_000_000


def rows(settings: Settings, view: str, before: str) -> Periods:
    """The rows of ``uptime_daily`` or ``uptime_monthly`` about periods before ``before``."""
    period = "day" if view == "uptime_daily" else "month"
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
        cursor = conn.execute(
            sql.SQL("SELECT * FROM {} WHERE {} < %s").format(
                sql.Identifier(view), sql.Identifier(period)
            ),
            (date.fromisoformat(before),),
        )
        names = [d.name for d in cursor.description or ()]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(r["service"], r["instance"], r[period]): r for r in found}


def test_the_uptime_views_on_known_checks(settings: Settings) -> None:
    migrate(settings)
    checks = scenario()
    write(settings, checks)
    now = datetime.now(UTC)
    daily = rows(settings, "uptime_daily", "2026-04-01")
    monthly = rows(settings, "uptime_monthly", "2026-04-01")

    # answers known by hand
    alpha = daily[("alpha", "a:1", date(2026, 3, 10))]
    assert (alpha["up_seconds"], alpha["silent_seconds"], alpha["observed_seconds"]) == (
        86_340, 60, 86_400)  # fmt: skip
    assert alpha["availability"] == Decimal("0.999305556")  # 86,340 / 86,400
    assert (alpha["checks"], alpha["unhealthy_checks"], alpha["meets_target"]) == (2878, 0, True)
    stopped = daily[("alpha", "a:1", date(2026, 3, 11))]
    assert (stopped["stopped_seconds"], stopped["availability"], stopped["stops"]) == (86_400, 0, 1)
    beta = daily[("beta", "b:1", date(2026, 3, 10))]
    assert (beta["observed_seconds"], beta["up_seconds"], beta["unhealthy_seconds"]) == (
        43_200, 39_600, 3_600)  # fmt: skip  # from its first check at noon
    assert (beta["availability"], beta["unhealthy_checks"]) == (Decimal("0.916666667"), 120)
    assert not beta["meets_target"]
    assert daily[("beta", "b:1", date(2026, 3, 11))]["silent_seconds"] == 86_400
    gamma = daily[("gamma", "g:1", date(2026, 3, 10))]
    assert (gamma["up_seconds"], gamma["availability"]) == (86_400, 1)  # no second counted twice
    assert daily[("gamma", "g:1", date(2026, 3, 11))]["up_seconds"] == 30
    met = monthly[("worker", "w:1", date(2026, 2, 1))]
    missed = monthly[("worker", "w:2", date(2026, 2, 1))]
    assert (met["observed_seconds"], met["unhealthy_seconds"]) == (28 * 86_400, 12_000)
    assert met["availability"] == Decimal("0.995039683") and met["meets_target"]
    assert missed["availability"] == Decimal("0.994998347") and not missed["meets_target"]
    assert monthly[("alpha", "a:1", date(2026, 3, 1))]["observed_seconds"] == 22 * 86_400
    # every day since the first check is there, to today, the ones without checks down
    (days,) = query(settings, "SELECT count(*) FROM uptime_daily WHERE service = 'beta'")[0]
    (today,) = query(settings, "SELECT (now() AT TIME ZONE 'UTC')::date")[0]
    assert days == (today - date(2026, 3, 10)).days + 1

    # the same as computed here, for every instance, day and month before April
    for view, unit in ((daily, "day"), (monthly, "month")):
        computed = {k: v for k, v in expected(checks, unit, now).items() if k[2] < date(2026, 4, 1)}
        assert set(view) == set(computed)
        for key, row in view.items():
            want = computed[key]
            for state in ("up", "unhealthy", "stopped", "silent", "observed"):
                assert row[f"{state}_seconds"] == seconds(want[state]), (key, state)
            assert (row["checks"], row["unhealthy_checks"], row["stops"]) == (
                want["checks"], want["unhealthy_checks"], want["stops"]), key  # fmt: skip
            share = Fraction(want["up"], want["observed"])
            assert abs(Fraction(row["availability"]) - share) <= Fraction(1, 2 * 10**9), key
            assert row["meets_target"] == (round(share, 9) >= Fraction(995, 1000)), key


def test_a_rebuild_of_the_uptime_projection_keeps_its_views(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(settings)
    codec = default_codec()
    checks = [
        *every("bridge", "h:8787", "2026-03-10T10:00:00+00:00", "2026-03-10T10:05:00+00:00"),
        *every(
            "bridge",
            "h:8787",
            "2026-03-10T10:06:00+00:00",
            "2026-03-10T10:10:00+00:00",
            healthy=False,
        ),  # fmt: skip
        Check(
            "bridge",
            "h:8787",
            datetime(2026, 3, 10, 10, 10, tzinfo=UTC),
            healthy=False,
            stopping=True,
        ),  # fmt: skip
        *every("worker", "h:8788", "2026-03-31T23:58:00+00:00", "2026-04-01T00:02:00+00:00"),
    ]
    producer = Producer(producer_config(settings))
    for c in checks:
        event = service_checked(
            service=c.service, instance=c.instance,
            checks=stopping_checks() if c.stopping else {"kafka": c.healthy},
            figures={"lag_records": 0.0}, interval_seconds=c.interval,
            started_at=c.at - 60 * SECOND, at=c.at,
        )  # fmt: skip
        producer.produce(settings.topic("health"), key=f"{c.service}|{c.instance}".encode(),
                         value=codec.encode(event))  # fmt: skip
    assert producer.flush(10) == 0
    Projector(settings, SERVICE_CHECKS, codec).catch_up(log_end(settings, SERVICE_CHECKS.topics))
    assert query(settings, "SELECT count(*) FROM service_checks") == [(len(checks),)]
    assert query(
        settings,
        "SELECT checks, figures FROM service_checks WHERE ts_event = '2026-03-10T10:10:00Z'",
    ) == [({"running": False}, {"lag_records": 0.0})]
    views = ("uptime_spans", "uptime_daily", "uptime_monthly")
    before = {v: done(settings, v) for v in views}
    assert before["uptime_daily"] and before["uptime_monthly"]

    from fillstream.commands.projections import main as projections_main

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert projections_main(["rebuild", "service_checks", "--json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)
    assert (outcome["projection"], outcome["version"], outcome["state"]) == (
        "service_checks", 2, "live")  # fmt: skip
    (definition,) = query(settings, "SELECT pg_get_viewdef('service_checks')")[0]
    assert "service_checks_v2" in definition
    assert query(settings, "SELECT to_regclass('service_checks_v1')") == [(None,)]  # dropped
    assert {v: done(settings, v) for v in views} == before


def done(settings: Settings, view: str) -> list[str]:
    """The rows of an uptime view that are over: those about time before last month (the
    latest grow with the clock)."""
    column = {"uptime_spans": "ends_at", "uptime_daily": "day", "uptime_monthly": "month"}[view]
    rows = query(settings, f"SELECT to_jsonb(v)::text FROM {view} v"
                           f" WHERE {column} < date_trunc('month', now()) - interval '1 month'"
                           " ORDER BY 1")  # fmt: skip
    return [text for (text,) in rows]
