"""The live feed: the last alerts sent, and each new one, as server-sent events for dashboards.

``GET /alerts/feed`` (served by ``core.health.serve_health`` through ``routes``) answers
``text/event-stream``: ``id:`` a sequence number that only grows, ``event: alert``, ``data:``
the generic JSON (``alerts.render.generic``), and a comment line every ``heartbeat`` seconds so
proxies keep the stream open. A client reconnecting with ``Last-Event-ID`` (or
``?last_event_id=``; 0 for the whole buffer) first gets what it missed that is still buffered.
A bearer token is required, in ``Authorization`` or, as browsers' EventSource cannot set
headers, in ``?token=``.

Sending never waits for a subscriber: each has a bounded queue, and one that falls that far
behind is dropped (it reconnects with its ``Last-Event-ID`` and catches up from the buffer).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from alerts import render
from alerts.config import Table
from alerts.routing import EVERYTHING, Routing
from schemas.events import AlertChanged

log = logging.getLogger("fillstream.alerts")

FEED_PATH = "/alerts/feed"
TOKEN_VARIABLE = "FILLSTREAM_TOKEN"
"""The variable a feed's token comes from when its table names none (``token_env``)."""
_RECONNECT_MS = 3000
_WRITE_TIMEOUT = 30.0
"""Seconds a write to a subscriber may block before the subscriber counts as gone."""


@dataclass(frozen=True, slots=True)
class FeedEvent:
    sequence: int
    data: str

    def encoded(self) -> bytes:
        return f"id: {self.sequence}\nevent: alert\ndata: {self.data}\n\n".encode()


class Subscription:
    """One subscriber's queue of events; ``dropped`` once it fell too far behind or the feed
    closed."""

    def __init__(self, size: int) -> None:
        self.events: queue.Queue[FeedEvent | None] = queue.Queue(maxsize=size)
        self.dropped = threading.Event()

    def drop(self) -> None:
        self.dropped.set()
        with contextlib.suppress(queue.Full):  # full: the stream is not waiting for one
            self.events.put_nowait(None)


class AlertFeed:
    """A channel (``type = "feed"``) whose ``send`` buffers and broadcasts; ``handle`` serves
    ``path`` to one subscriber, in the HTTP server's thread for that connection."""

    def __init__(
        self,
        name: str,
        *,
        token: str,
        routing: Routing = EVERYTHING,
        buffer: int = 100,
        path: str = FEED_PATH,
        heartbeat: float = 15.0,
        queue_size: int = 256,
        max_subscribers: int = 64,
    ) -> None:
        if not token:
            raise ValueError("an AlertFeed needs a token: an empty one would let anyone in")
        self.name = name
        self.routing = routing
        self.path = path
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._token = token.encode()
        self._buffer: deque[FeedEvent] = deque(maxlen=buffer)
        self._sequence = 0
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AlertFeed({self.name!r}, path={self.path!r})"

    def wants(self, alert: AlertChanged) -> bool:
        return self.routing.wants(alert)

    def send(self, alert: AlertChanged) -> None:
        data = json.dumps(render.generic(alert), ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._sequence += 1
            event = FeedEvent(self._sequence, data)
            self._buffer.append(event)
            for subscriber in list(self._subscribers):
                try:
                    subscriber.events.put_nowait(event)
                except queue.Full:
                    log.warning("%s: a subscriber fell %d events behind: dropped",
                                self.name, self.queue_size)  # fmt: skip
                    self._subscribers.discard(subscriber)
                    subscriber.drop()

    def subscribe(self, last_event_id: int | None) -> tuple[Subscription, list[FeedEvent]] | None:
        """A new subscription and the buffered events it missed (see ``missed``), taken at one
        instant so none is lost or repeated; None when ``max_subscribers`` are subscribed."""
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                return None
            subscription = Subscription(self.queue_size)
            self._subscribers.add(subscription)
            return subscription, self._missed(last_event_id)

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def missed(self, last_event_id: int | None) -> list[FeedEvent]:
        """The buffered events after ``last_event_id``: none without one; all of them after a
        restart (an id beyond the last sequence)."""
        with self._lock:
            return self._missed(last_event_id)

    def close(self) -> None:
        """End every stream."""
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.drop()
            self._subscribers.clear()

    def authorized(self, request: BaseHTTPRequestHandler) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            given = next(iter(_query(request).get("token", [])), "")
        return hmac.compare_digest(given.strip().encode(), self._token)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if not self.authorized(request):
            _answer(request, 401, "a bearer token is required (Authorization or ?token=)",
                    {"WWW-Authenticate": 'Bearer realm="fillstream"'})  # fmt: skip
            return
        subscribed = self.subscribe(_last_event_id(request))
        if subscribed is None:
            _answer(request, 503, f"the feed has {self.max_subscribers} subscribers already", {})
            return
        subscription, backlog = subscribed
        try:
            self._stream(request, subscription, backlog)
        except OSError:
            pass  # the subscriber went away
        finally:
            self.unsubscribe(subscription)
            request.close_connection = True

    def _stream(
        self, request: BaseHTTPRequestHandler, subscription: Subscription, backlog: list[FeedEvent]
    ) -> None:
        request.connection.settimeout(_WRITE_TIMEOUT)
        request.send_response(200)
        request.send_header("Content-Type", "text/event-stream; charset=utf-8")
        request.send_header("Cache-Control", "no-cache")
        request.send_header("X-Accel-Buffering", "no")
        request.end_headers()
        request.wfile.write(f"retry: {_RECONNECT_MS}\n\n".encode())
        for missed in backlog:
            request.wfile.write(missed.encoded())
        while not subscription.dropped.is_set():
            try:
                event = subscription.events.get(timeout=self.heartbeat)
            except queue.Empty:
                request.wfile.write(b": keep-alive\n\n")
                continue
            if event is None or subscription.dropped.is_set():
                return
            request.wfile.write(event.encoded())

    def _missed(self, last_event_id: int | None) -> list[FeedEvent]:
        if last_event_id is None:
            return []
        if last_event_id > self._sequence:
            return list(self._buffer)
        return [event for event in self._buffer if event.sequence > last_event_id]


def feed_channel(
    name: str, table: Table, routing: Routing, default_token: str | None = None
) -> AlertFeed:
    """An ``AlertFeed`` from its ``[channels.<name>]`` table (``type = "feed"``); without
    ``token_env``, the token is ``default_token``, else ``FILLSTREAM_TOKEN``'s."""
    if table.optional_text("token_env") is None and default_token is not None:
        token = default_token
    else:
        token = table.secret("token_env", TOKEN_VARIABLE)
    if len(token) < 16:
        raise table.error("token_env", "names a token shorter than 16 characters")
    path = table.text("path", FEED_PATH)
    if not path.startswith("/") or "?" in path:
        raise table.error("path", f"must be a URL path like {FEED_PATH}, was {path!r}")
    feed = AlertFeed(
        name,
        token=token,
        routing=routing,
        buffer=table.integer("buffer", 100, 1, 100_000),
        path=path,
        heartbeat=table.seconds("heartbeat", 15.0),
    )
    table.refuse_unknown("feed")
    return feed


def _query(request: BaseHTTPRequestHandler) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.path).query)


def _last_event_id(request: BaseHTTPRequestHandler) -> int | None:
    given = request.headers.get("Last-Event-ID") or next(
        iter(_query(request).get("last_event_id", [])), None
    )
    try:
        return int(given) if given is not None else None
    except ValueError:
        return None  # not one of ours: as if it had none


def _answer(
    request: BaseHTTPRequestHandler, status: int, error: str, headers: dict[str, str]
) -> None:
    body = json.dumps({"error": error}).encode()
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name, value)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
