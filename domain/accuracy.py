"""When the nightly data-accuracy run is due. Pure.

A run belongs to a trading day (``domain.performance.figures.trading_day``): it is due
``minutes`` after that day's session ends (17:00 Chicago), on weekdays. At any moment the run due
is the latest trading day whose time has come, unless that day's run was made: a process that
was down at the time runs it when it comes back, and one run stands for the days it missed (an
accuracy is of the projections as they are, not as they were).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.performance.figures import session_bounds, trading_day


def run_at(day: date, minutes: int) -> datetime:
    """When the run of trading day ``day`` (a weekday) is due."""
    return session_bounds(day)[1] + timedelta(minutes=minutes)


def due(now: datetime, minutes: int, last: date | None) -> date | None:
    """The trading day whose run is due at ``now``, if it was not made (``last``: the latest
    day run)."""
    day = trading_day(now)
    while run_at(day, minutes) > now:
        day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
    return None if last is not None and last >= day else day
