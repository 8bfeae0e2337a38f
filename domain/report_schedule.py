"""When the scheduled reports are due. Pure.

The exchange's calendar, not the machine's midnight: a trading day's session ends at the CME
rollover (17:00 Chicago, ``domain.performance.figures.session_bounds``), on weekdays, except the
``holidays`` a route names. The daily summary of a trading day is due ``delay`` after its session
ends; the weekly review of an ISO week, ``delay`` after the end of the week's last session (the
Friday's, or the Thursday's when Friday is a holiday). A week without a session has no review.

``due`` lists every report whose time came in ``(since, now]``: ``since`` is when the route was
first seen, so a new route sends no history, and a notifier that was down sends what it missed
when it comes back. Those due longer than ``catch_up`` ago are listed as too old to send (they
are recorded, not sent: a week-old daily summary is history, not news).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.performance.figures import session_bounds, trading_day
from domain.reports import Period, day_period, week_period

KINDS = ("daily", "weekly")


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    period: Period
    at: datetime
    """When it became due."""
    too_old: bool = False
    """Due longer than the catch-up window ago: recorded as skipped, never sent."""

    @property
    def kind(self) -> str:
        return self.period.kind


def sessions(first: date, last: date, holidays: Collection[date] = ()) -> list[date]:
    """The trading days of ``[first, last]``: weekdays not in ``holidays``."""
    days = []
    day = first
    while day <= last:
        if day.weekday() < 5 and day not in holidays:
            days.append(day)
        day += timedelta(days=1)
    return days


def daily_at(day: date, delay: timedelta) -> datetime:
    """When the daily summary of trading day ``day`` is due."""
    return session_bounds(day)[1] + delay


def weekly_at(period: Period, delay: timedelta, holidays: Collection[date] = ()) -> datetime | None:
    """When the weekly review of ``period`` is due: after its last session; None without one."""
    days = sessions(period.first, period.last, holidays)
    return daily_at(days[-1], delay) if days else None


def due(
    kind: str,
    now: datetime,
    since: datetime,
    *,
    delay: timedelta,
    catch_up: timedelta,
    holidays: Collection[date] = (),
) -> list[Due]:
    """The ``kind`` reports due in ``(since, now]``, oldest first."""
    if kind not in KINDS:
        raise ValueError(f"a report is daily or weekly, not {kind!r}")
    if now <= since:
        return []
    # a report due at or before now belongs to a trading day at or before now's
    last = trading_day(now)
    first = trading_day(since - delay)
    found: list[Due] = []
    if kind == "daily":
        for day in sessions(first, last, holidays):
            at = daily_at(day, delay)
            if since < at <= now:
                found.append(Due(period=day_period(day), at=at, too_old=now - at > catch_up))
        return found
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        period = week_period(f"{monday:%G-W%V}")
        week_at = weekly_at(period, delay, holidays)
        if week_at is not None and since < week_at <= now:
            found.append(Due(period=period, at=week_at, too_old=now - week_at > catch_up))
        monday += timedelta(days=7)
    return found


def late(at: datetime, sent: datetime, grace: timedelta) -> bool:
    """Whether a report due ``at`` and sent at ``sent`` went out late (more than ``grace``
    after its time: the notifier was down or the channel failing when it was due)."""
    return sent - at > grace
