"""The nightly accuracy run: due a set time after each trading day's session ends, once, and
caught up by one run after a process was down."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.accuracy import due, run_at

CHICAGO = ZoneInfo("America/Chicago")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


def test_due_an_hour_after_the_session_ends_then_not_again() -> None:
    thursday = date(2025, 5, 15)
    assert run_at(thursday, 60) == at("2025-05-15T18:00")
    assert due(at("2025-05-15T17:59"), 60, None) == date(2025, 5, 14)  # Wednesday's was due
    assert due(at("2025-05-15T17:59"), 60, date(2025, 5, 14)) is None
    assert due(at("2025-05-15T18:00"), 60, date(2025, 5, 14)) == thursday
    assert due(at("2025-05-15T23:00"), 60, thursday) is None


def test_a_weekend_owes_fridays_run_and_monday_morning_too() -> None:
    friday = date(2025, 5, 16)
    for moment in ("2025-05-17T12:00", "2025-05-18T20:00", "2025-05-19T09:00"):
        assert due(at(moment), 30, None) == friday, moment
        assert due(at(moment), 30, friday) is None


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)),
    minutes=st.integers(0, 1440),
)
def test_the_day_due_is_the_latest_whose_time_has_come(moment: datetime, minutes: int) -> None:
    now = moment.replace(tzinfo=UTC)
    day = due(now, minutes, None)
    assert day is not None and day.weekday() < 5
    assert run_at(day, minutes) <= now
    later = day + timedelta(days=1)
    while later.weekday() >= 5:
        later += timedelta(days=1)
    assert run_at(later, minutes) > now  # no later day's time has come
    assert due(now, minutes, day) is None
