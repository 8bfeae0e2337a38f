"""When scheduled reports are due: the exchange's calendar (the 17:00 Chicago close, weekdays,
holidays named), each report once in the window since a route was first seen, the old ones
listed as too old; against a brute-force enumeration of every weekday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.report_schedule import daily_at, due, late, sessions, weekly_at
from domain.reports import day_period, week_period

CHICAGO = ZoneInfo("America/Chicago")
TEN = timedelta(minutes=10)
WEEK = timedelta(days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


def days(found: list) -> list[date]:  # type: ignore[type-arg]
    return [d.period.first for d in found]


def test_the_daily_summary_is_due_after_the_close_not_at_midnight() -> None:
    thursday = date(2025, 5, 15)
    assert daily_at(thursday, TEN) == at("2025-05-15T17:10")
    since = at("2025-05-15T12:00")
    assert due("daily", at("2025-05-15T17:09"), since, delay=TEN, catch_up=WEEK) == []
    found = due("daily", at("2025-05-15T17:10"), since, delay=TEN, catch_up=WEEK)
    assert days(found) == [thursday]
    assert found[0].at == at("2025-05-15T17:10") and not found[0].too_old
    # the machine's midnight (UTC or Chicago) is no boundary
    assert due("daily", at("2025-05-15T23:59"), since, delay=TEN, catch_up=WEEK) == found
    assert due("daily", at("2025-05-16T00:01"), since, delay=TEN, catch_up=WEEK) == found


def test_a_weekend_has_no_daily_summary_and_the_week_ends_on_friday() -> None:
    since = at("2025-05-16T12:00")  # Friday
    sunday = at("2025-05-18T20:00")
    assert days(due("daily", sunday, since, delay=TEN, catch_up=WEEK)) == [date(2025, 5, 16)]
    weekly = due("weekly", sunday, since, delay=TEN, catch_up=WEEK)
    assert [d.period for d in weekly] == [week_period("2025-W20")]
    assert weekly[0].at == at("2025-05-16T17:10")


def test_holidays_have_no_summary_and_move_the_weekly_review_to_the_last_session() -> None:
    good_friday = date(2025, 4, 18)
    since = at("2025-04-14T00:00")
    now = at("2025-04-21T12:00")
    daily = due("daily", now, since, delay=TEN, catch_up=WEEK, holidays={good_friday})
    assert days(daily) == [date(2025, 4, 14), date(2025, 4, 15), date(2025, 4, 16),
                           date(2025, 4, 17)]  # fmt: skip
    weekly = due("weekly", now, since, delay=TEN, catch_up=WEEK, holidays={good_friday})
    assert weekly[0].at == at("2025-04-17T17:10")  # Thursday's close
    whole = sessions(date(2024, 12, 23), date(2024, 12, 27))
    assert weekly_at(week_period("2024-W52"), TEN, set(whole)) is None  # no session, no review


def test_a_new_route_sends_no_history_and_old_misses_are_too_old() -> None:
    now = at("2025-05-15T18:00")
    assert due("daily", now, now, delay=TEN, catch_up=WEEK) == []
    found = due("daily", now, at("2025-05-01T00:00"), delay=TEN, catch_up=timedelta(days=3))
    assert days(found)[0] == date(2025, 5, 1) and days(found)[-1] == date(2025, 5, 15)
    fresh = [d.period.first for d in found if not d.too_old]
    assert fresh == [date(2025, 5, 13), date(2025, 5, 14), date(2025, 5, 15)]  # 12th: 3 d 50 min


def test_late_is_beyond_the_grace() -> None:
    due_at = at("2025-05-15T17:10")
    assert not late(due_at, due_at + timedelta(minutes=5), timedelta(minutes=5))
    assert late(due_at, due_at + timedelta(minutes=5, seconds=1), timedelta(minutes=5))


def test_a_kind_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="daily or weekly"):
        due("monthly", at("2025-05-15T18:00"), at("2025-05-01T00:00"), delay=TEN, catch_up=WEEK)


def _brute(kind: str, now: datetime, since: datetime, delay: timedelta,
           holidays: set[date]) -> list[tuple[date, datetime]]:  # fmt: skip
    """Every weekday from well before ``since`` to well after ``now``, tried one by one."""
    found = []
    day = (since - timedelta(days=14)).date()
    while day <= now.date() + timedelta(days=14):
        if kind == "daily" and day.weekday() < 5 and day not in holidays:
            moment = daily_at(day, delay)
            if since < moment <= now:
                found.append((day, moment))
        if kind == "weekly" and day.weekday() == 0:
            moment_or_none = weekly_at(week_period(f"{day:%G-W%V}"), delay, holidays)
            if moment_or_none is not None and since < moment_or_none <= now:
                found.append((day, moment_or_none))
        day += timedelta(days=1)
    return found


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["daily", "weekly"]),
    since=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 1)),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    catch_up=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    holidays=st.sets(
        st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 1, 31)), max_size=40
    ),  # fmt: skip
)
def test_due_lists_exactly_the_reports_whose_time_came_in_the_window(
    kind: str,
    since: datetime,
    span: timedelta,
    delay: timedelta,
    catch_up: timedelta,
    holidays: set[date],
) -> None:
    start = since.replace(tzinfo=UTC)
    now = start + span
    found = due(kind, now, start, delay=delay, catch_up=catch_up, holidays=holidays)
    assert [(d.period.first, d.at) for d in found] == _brute(kind, now, start, delay, holidays)
    for d in found:
        assert d.too_old == (now - d.at > catch_up)
        assert d.period == (day_period(d.period.first) if kind == "daily" else d.period)
    # two windows side by side list what the whole one does, each report once
    middle = start + span / 2
    halves = due(kind, middle, start, delay=delay, catch_up=catch_up, holidays=holidays) + due(
        kind, now, middle, delay=delay, catch_up=catch_up, holidays=holidays
    )
    assert [d.period for d in halves] == [d.period for d in found]
