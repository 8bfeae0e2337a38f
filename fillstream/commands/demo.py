"""``fillstream demo``: feed a generated session through the bridge, then show where it landed.

The session comes from ``fillstream.demo`` (seeded, so a run is reproducible). Events go to the
bridge's ``POST /v1/events`` in batches; with ``--wait`` the command then polls PostgreSQL until
the ``trades`` view has grown by the number of trades the session implies.
"""

from __future__ import annotations

import argparse
import json
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bridge.tls import client_context
from core.errors import InvalidEventError, InvalidEventsError, ServiceError
from core.settings import Settings
from deploy.services import local_bridge_url
from fillstream.demo import expected_trade_count, generate_session, summarize

MAX_BATCH = 1000
_REQUEST_TIMEOUT = 30.0  # seconds per POST
_POLL_SECONDS = 1.0
_SHOWN_ERRORS = 20
_FIELD_INDEX = re.compile(r"^\[(\d+)\]\.?(.*)$")  # the bridge's "[3].price"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    token = settings.require_token()
    events = generate_session(seed=args.seed, minutes=args.minutes)
    expected = expected_trade_count(events)
    kinds = ", ".join(f"{n} {kind}" for kind, n in summarize(events).items())
    print(f"demo session (seed {args.seed}, {args.minutes} min): {len(events)} events ({kinds})")
    print(f"it implies {expected} round-trip trades")

    conn = _connect_or_say_why(settings) if args.wait else None
    try:
        if not _send_or_explain(events, settings, token, args.batch_size):
            return 1
        if conn is None:
            _print_where_to_look(settings, [])
            return 1 if args.wait else 0
        execution_ids = [e["execution_id"] for e in events if e["type"] == "execution"]
        trades = wait_for_trades(
            conn, execution_ids=execution_ids, expected=expected, timeout=args.timeout
        )
        _print_where_to_look(settings, _view_counts(conn, settings.namespace))
    except psycopg.Error as e:
        raise ServiceError("PostgreSQL", f"query failed at {_where(settings.dsn)}: {e}") from e
    finally:
        if conn is not None:
            conn.close()
    if trades < expected:
        print(
            f"fillstream demo: {trades} of {expected} trades arrived within "
            f"{args.timeout:g}s (check `fillstream status` and `fillstream logs`)",
            file=sys.stderr,
        )
        return 1
    return 0


def _send_or_explain(
    events: Sequence[dict[str, Any]], settings: Settings, token: str, batch_size: int
) -> bool:
    """Send the session; False, after printing the bridge's reasons, if it rejected a batch."""
    try:
        cert = settings.bridge_tls_cert
        context = None if cert is None else client_context(cert)
        url = f"{local_bridge_url(settings)}/v1/events"
        send(events, url=url, token=token, batch_size=batch_size, context=context)
    except InvalidEventsError as e:
        print(
            f"fillstream demo: the bridge rejected a batch, {len(e.errors)} problems "
            "(batches before it were accepted):",
            file=sys.stderr,
        )
        for error in e.errors[:_SHOWN_ERRORS]:
            print(f"  {error}", file=sys.stderr)
        if len(e.errors) > _SHOWN_ERRORS:
            print(f"  ... and {len(e.errors) - _SHOWN_ERRORS} more", file=sys.stderr)
        return False
    return True


def send(
    events: Sequence[dict[str, Any]],
    *,
    url: str,
    token: str,
    batch_size: int,
    context: ssl.SSLContext | None = None,
) -> int:
    """POST the events in batches, printing progress; how many the bridge accepted. ``context``
    says whom to trust for an ``https://`` url (else the machine's store)."""
    started, accepted = time.monotonic(), 0
    for offset in range(0, len(events), batch_size):
        batch = events[offset : offset + batch_size]
        accepted += post_batch(batch, url=url, token=token, offset=offset, context=context)
        sent = offset + len(batch)
        rate = sent / max(time.monotonic() - started, 1e-6)
        eta = (len(events) - sent) / rate
        _progress(f"sent {sent}/{len(events)} events, {rate:,.0f} events/s, eta {eta:.0f}s")
    elapsed = time.monotonic() - started
    rate = len(events) / max(elapsed, 1e-6)
    _progress(
        f"sent {len(events)} events in {elapsed:.1f}s ({rate:,.0f} events/s), {accepted} accepted",
        done=True,
    )
    return accepted


def post_batch(
    batch: Sequence[dict[str, Any]],
    *,
    url: str,
    token: str,
    offset: int = 0,
    context: ssl.SSLContext | None = None,
) -> int:
    """POST one batch; the number accepted. ``offset`` numbers the events in error messages."""
    request = urllib.request.Request(
        url,
        data=json.dumps(list(batch)).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT, context=context) as response:
            reply = json.load(response)
    except urllib.error.HTTPError as e:
        raise _rejection(e, url, offset) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ServiceError(
            "bridge", f"not reachable at {url} ({reason}); start the stack with `fillstream up`"
        ) from e
    return int(reply.get("accepted", len(batch))) if isinstance(reply, dict) else len(batch)


def _rejection(e: urllib.error.HTTPError, url: str, offset: int) -> Exception:
    try:
        reply = json.loads(e.read() or b"{}")
    except ValueError:
        reply = {}
    reply = reply if isinstance(reply, dict) else {}
    if e.code == 401:
        return ServiceError(
            "bridge",
            f"rejected the token at {url} (401): FILLSTREAM_TOKEN does not match the bridge's; "
            'run `eval "$(fillstream env)"` or restart the stack with `fillstream up`',
        )
    errors = reply.get("errors")
    if 400 <= e.code < 500 and isinstance(errors, list) and errors:
        return InvalidEventsError([_event_error(error, offset) for error in errors])
    detail = reply.get("error") or e.reason
    return ServiceError("bridge", f"answered {e.code} at {url}: {detail}")


def _event_error(error: Any, offset: int) -> InvalidEventError:
    """One of the bridge's ``{"index", "field", "reason"}`` entries, numbered in the session."""
    if not isinstance(error, dict):
        return InvalidEventError("body", str(error))
    index, field = error.get("index"), str(error.get("field", "?"))
    match = _FIELD_INDEX.match(field)
    if index is None and match:
        index, field = int(match[1]), match[2]
    if isinstance(index, int):
        field = f"events[{offset + index}].{field}"
    return InvalidEventError(field, str(error.get("reason", "is invalid")))


def wait_for_trades(
    conn: psycopg.Connection[Any], *, execution_ids: Sequence[str], expected: int, timeout: float
) -> int:
    """Poll the ``trades`` view until the trades made of these executions number ``expected``.

    Counting the session's own trades (not the table's growth) keeps a re-run of a seed, whose
    executions are duplicates by design, from waiting in vain. Returns the last count seen.
    """
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM trades WHERE execution_ids && %s::text[]"
    while True:
        try:
            row = conn.execute(query, (list(execution_ids),)).fetchone()
            current = int(row[0]) if row else 0
        except psycopg.errors.UndefinedTable:
            current = 0
        _progress(f"trades: {current}/{expected}")
        if current >= expected:
            _progress(f"trades: {current}/{expected}", done=True)
            return current
        if time.monotonic() >= deadline:
            _progress(f"trades: {current}/{expected} (timed out)", done=True)
            return current
        time.sleep(_POLL_SECONDS)


def _connect_or_say_why(settings: Settings) -> psycopg.Connection[Any] | None:
    try:
        conn = psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(settings.namespace)))
    except psycopg.Error as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(
            f"fillstream demo: PostgreSQL not reachable at {_where(settings.dsn)} ({reason}); "
            "sending anyway, without waiting for trades (start it with `fillstream up`)",
            file=sys.stderr,
        )
        return None
    return conn


def _count(conn: psycopg.Connection[Any], relation: str) -> int | None:
    """Rows in a relation of the namespace, or None while it does not exist yet."""
    try:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(relation))
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row else 0


def _view_counts(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, int | None]]:
    names = conn.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = %s ORDER BY 1",
        (schema,),
    ).fetchall()
    return [(str(name), _count(conn, str(name))) for (name,) in names]


def _print_where_to_look(settings: Settings, views: list[tuple[str, int | None]]) -> None:
    rows = [(name, "-" if n is None else str(n)) for name, n in views]
    rows += [
        ("bridge", f"{settings.bridge_url}/v1/events"),
        ("bridge metrics", f"{settings.bridge_url}/metrics"),
        ("worker metrics", f"http://127.0.0.1:{settings.worker_port}/metrics"),
        ("projector metrics", f"http://127.0.0.1:{settings.projector_port}/metrics"),
        ("notifier metrics", f"http://127.0.0.1:{settings.notify_port}/metrics"),
        ("alerts", "fillstream alerts list --all"),
        (
            "psql",
            f'eval "$(fillstream env)"; psql "$DATABASE_URL" '
            f"-c 'select * from {settings.namespace}.trades limit 5'",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print("\nwhere to look")
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value.rjust(8) if value.isdigit() else value}")


def _where(dsn: str) -> str:
    """The host, port and database of a DSN, without its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "DATABASE_URL"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _progress(line: str, *, done: bool = False) -> None:
    if sys.stdout.isatty():
        print(f"\r\033[K{line}", end="\n" if done else "", flush=True)
    elif done:
        print(line, flush=True)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream demo", description="Feed a generated trading session through the bridge."
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="random seed of the session (default 7)"
    )
    parser.add_argument(
        "--minutes", type=_bounded(1, 24 * 60), default=390, help="session length (default 390)"
    )
    parser.add_argument(
        "--batch-size",
        type=_bounded(1, MAX_BATCH),
        default=200,
        help=f"events per request, 1..{MAX_BATCH} (default 200)",
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for the trades to reach PostgreSQL (default: wait)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the trades (default 120)"
    )
    return parser


def _bounded(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, was {value}")
        return value

    return parse
