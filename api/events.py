"""The live feed behind ``/api/events``: what changed in the views, as numbered events.

One task per process reads the views a few times a second and turns what changed into events:

- ``trade``: a trade projected (a new one, or a later revision), the row as ``/api/trades``
  shows it. Read by the projecting transaction (``projected_xid``) below the horizon
  ``pg_snapshot_xmin``: every transaction below it has ended, so none is missed or read twice
  (``projections/experiment_reads.py`` reads the same way);
- ``position``: an open position whose row changed (a fill, or a new mark of its unrealized
  P&L), as ``/api/positions`` shows it; a position closed comes with ``quantity`` 0 and
  ``closed`` true;
- ``performance``: a performance row projected, as ``/api/performance`` shows it;
- ``alert``: an alert raised (the ``alerts_active`` row, ``state`` "raised") or no longer active
  (``state`` "resolved", with its rule and key);
- ``health``: a process's latest health check when it changes (healthy or not, its checks).

Events are numbered ``<epoch>-<n>``: the process's start (milliseconds) and a counter. The last
``capacity`` events are kept, so a client that reconnects with ``Last-Event-ID`` gets what it
missed. An id the feed no longer holds (too old, or of an earlier process) gets ``resync``: the
client reads the endpoints again, then follows the stream."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from api.endpoints import ALERTS_ACTIVE, PERFORMANCE, POSITIONS, SERVICE_CHECKS, TRADES
from api.queries import columns, rows_json
from core.database import first_line

log = logging.getLogger("fillstream.api")

CAPACITY = 10_000
POLL_SECONDS = 0.25
HEALTH_EVERY = 8
"""Health checks come every 30 s: read them every 8th poll (2 s)."""
RETRY_SECONDS = 1.0
MAX_ROWS = 1000
"""At most this many trades or performance rows a poll; the rest come with the next."""
RECENT_CHECKS = "10 minutes"

Row = dict[str, Any]
Connect = Callable[[], Awaitable[Any]]
"""Opens a connection (autocommit) with the views on its search path."""


@dataclass(frozen=True, slots=True)
class Event:
    number: int
    kind: str
    data: Row


@dataclass(slots=True)
class _Tracked:
    """What the last poll saw: the trades' horizon, the newest performance row, and the rows of
    the small views it diffs whole."""

    horizon: str | None = None
    performance_after: tuple[Any, ...] | None = None
    """The (projected_at, snapshot_id) of the last performance row read."""
    positions: dict[tuple[Any, ...], Row] = field(default_factory=dict)
    alerts: dict[tuple[Any, ...], Row] = field(default_factory=dict)
    health: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)


class Feed:
    """The events, numbered in the order they were found, and the last ``capacity`` of them."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.epoch = str(time.time_ns() // 1_000_000)
        self._kept: deque[Event] = deque(maxlen=capacity)
        self._count = 0
        self._changed = asyncio.Event()
        self.polled_at: float | None = None
        """When the views were last read (monotonic), None before the first read."""

    def event_id(self, event: Event) -> str:
        return f"{self.epoch}-{event.number}"

    @property
    def last(self) -> int:
        return self._count

    def publish(self, kind: str, data: Row) -> None:
        self._count += 1
        self._kept.append(Event(self._count, kind, data))
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, last_event_id: str | None) -> list[Event] | None:
        """The events after ``last_event_id`` (none for a new client); None if it is not one
        the feed can resume from (too old, or an earlier process's)."""
        if not last_event_id:
            return []
        epoch, _, number = last_event_id.partition("-")
        if epoch != self.epoch or not number.isdigit() or int(number) > self._count:
            return None
        after = int(number)
        if self._kept and after < self._kept[0].number - 1:
            return None
        return self.since(after)

    def since(self, number: int) -> list[Event]:
        """The events kept after ``number``: they are numbered without gaps, so they start at
        a known place in the deque."""
        if not self._kept:
            return []
        skip = max(0, number - self._kept[0].number + 1)
        return list(itertools.islice(self._kept, skip, None))

    async def wait(self, number: int, timeout: float) -> None:
        """Until an event after ``number`` is published, or ``timeout`` seconds."""
        if self._count > number:
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)


_TRADES = sql.SQL(
    "SELECT {} FROM trades WHERE projected_xid >= %s::xid8 AND projected_xid < %s::xid8"
    " ORDER BY projected_xid, exit_time, trade_id LIMIT %s"
).format(columns(TRADES))
_PERFORMANCE = sql.SQL(
    "SELECT {} FROM performance"
    " WHERE %s::timestamptz IS NULL OR (projected_at, snapshot_id) > (%s::timestamptz, %s::text)"
    " ORDER BY projected_at, snapshot_id LIMIT %s"
).format(columns(PERFORMANCE))
_PROJECTED_AT = [c.name for c in PERFORMANCE.columns].index("projected_at")
_SNAPSHOT = [c.name for c in PERFORMANCE.columns].index("snapshot_id")
_POSITIONS = sql.SQL("SELECT {} FROM positions LIMIT %s").format(columns(POSITIONS))
_ALERTS = sql.SQL("SELECT {} FROM alerts_active LIMIT %s").format(columns(ALERTS_ACTIVE))
_HEALTH = sql.SQL(
    "SELECT DISTINCT ON (service, instance) {} FROM service_checks"
    " WHERE ts_event > now() - interval '" + RECENT_CHECKS + "'"
    " ORDER BY service, instance, ts_event DESC"
).format(columns(SERVICE_CHECKS))
_HORIZON = sql.SQL("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
_NEWEST_PERFORMANCE = sql.SQL(
    "SELECT projected_at, snapshot_id FROM performance ORDER BY projected_at DESC, snapshot_id DESC"
    " LIMIT 1"
)


class Watcher:
    """Reads the views and publishes what changed to the feed."""

    def __init__(self, feed: Feed, connect: Connect) -> None:
        self.feed = feed
        self._connect = connect
        self._seen = _Tracked()
        self._polls = 0
        self._failing = False
        self._conn: Any = None

    async def run(self, stopping: asyncio.Event) -> None:
        """Poll until ``stopping`` is set; a failure is logged once and retried."""
        while not stopping.is_set():
            try:
                await self.poll()
                if self._failing:
                    log.info("live feed: the database answers again")
                self._failing = False
                delay = POLL_SECONDS
            except (psycopg.Error, OSError) as e:
                if not self._failing:
                    log.warning("live feed: %s", first_line(e))
                self._failing = True
                await self.close()
                delay = RETRY_SECONDS
            except Exception:  # a bug: said in full, and the feed goes on
                log.exception("live feed: reading the views failed")
                self._failing = True
                await self.close()
                delay = RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
        await self.close()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def poll(self) -> None:
        """One read of every watched view; the first one only notes where things stand."""
        first = self._seen.horizon is None
        if self._conn is None:
            self._conn = await self._connect()
        conn = self._conn
        await self._trades(conn, first)
        await self._performance(conn, first)
        self._diff_positions(await _fetch(conn, _POSITIONS, (MAX_ROWS,)), first)
        self._diff_alerts(await _fetch(conn, _ALERTS, (MAX_ROWS,)), first)
        if first or self._polls % HEALTH_EVERY == 0:
            self._diff_health(await _fetch(conn, _HEALTH, ()), first)
        self._polls += 1
        self.feed.polled_at = time.monotonic()

    async def _trades(self, conn: Any, first: bool) -> None:
        (high,) = (await _fetch(conn, _HORIZON, ()))[0]
        low = self._seen.horizon
        self._seen.horizon = high
        if first or low == high:
            return
        rows = await _fetch(conn, _TRADES, (low, high, MAX_ROWS + 1))
        if len(rows) > MAX_ROWS:  # a replay or a restore: read the endpoints again
            self.feed.publish("resync", {"reason": f"more than {MAX_ROWS} trades projected"})
            return
        for row in rows_json(TRADES, rows):
            self.feed.publish("trade", row)

    async def _performance(self, conn: Any, first: bool) -> None:
        seen = self._seen
        if first:
            newest = await _fetch(conn, _NEWEST_PERFORMANCE, ())
            seen.performance_after = newest[0] if newest else None
            return
        at, snapshot = seen.performance_after or (None, None)
        rows = await _fetch(conn, _PERFORMANCE, (at, at, snapshot, MAX_ROWS))
        if rows:
            last = rows[-1]
            seen.performance_after = (last[_PROJECTED_AT], last[_SNAPSHOT])
        for row in rows_json(PERFORMANCE, rows):
            self.feed.publish("performance", row)

    def _diff_positions(self, rows: list[tuple[Any, ...]], first: bool) -> None:
        now = {
            (r["account"], r["strategy"], r["instrument"]): r for r in rows_json(POSITIONS, rows)
        }
        if not first:
            for key, row in now.items():
                if self._seen.positions.get(key) != row:
                    self.feed.publish("position", row)
            for key in self._seen.positions.keys() - now.keys():
                account, strategy, instrument = key
                self.feed.publish(
                    "position",
                    {"account": account, "strategy": strategy, "instrument": instrument,
                     "quantity": 0, "closed": True},
                )  # fmt: skip
        self._seen.positions = now

    def _diff_alerts(self, rows: list[tuple[Any, ...]], first: bool) -> None:
        now = {(r["rule"], r["key"]): r for r in rows_json(ALERTS_ACTIVE, rows)}
        if not first:
            for key, row in now.items():
                if key not in self._seen.alerts:
                    self.feed.publish("alert", {**row, "state": "raised"})
            for rule, key in self._seen.alerts.keys() - now.keys():
                self.feed.publish("alert", {"rule": rule, "key": key, "state": "resolved"})
        self._seen.alerts = now

    def _diff_health(self, rows: list[tuple[Any, ...]], first: bool) -> None:
        for row in rows_json(SERVICE_CHECKS, rows):
            key = (row["service"], row["instance"])
            state = (row["healthy"], tuple(sorted(row["checks"].items())))
            if not first and self._seen.health.get(key) != state:
                self.feed.publish("health", row)
            self._seen.health[key] = state


async def _fetch(conn: Any, query: sql.Composable, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(query, args)
    return list(await cursor.fetchall())
