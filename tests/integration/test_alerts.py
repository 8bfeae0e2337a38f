"""Alerts end to end on the real services: health checks and trades in, the worker's alert
stages raising and resolving, the projection's history, and the notifier delivering to a real
HTTP webhook once per alert — through restarts, rewinds of both the notifier and the alert
stage, silences and stale history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from core.database import connect
from core.kafka import producer_config
from core.settings import PROJECT_ROOT, Settings
from domain.reports import ACCURACY_SQL, LAG_SQL, Lag, accuracy_row, lag_row, parameters
from schemas.catalog import record_headers
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, ServiceChecked, schema_name
from tests.fixtures.pipeline import ServiceProcess, answered, execution, post, query
from tests.fixtures.services import free_port, wait_for
from tests.integration.test_imported_trades import HEADER
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration


@dataclass
class Hook:
    """A real HTTP server on loopback that records the JSON bodies posted to it."""

    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def alerts(self, rule: str | None = None) -> list[dict[str, Any]]:
        return [b for b in self.bodies if rule is None or b.get("rule") == rule]


def serve_hook(received: Hook) -> ThreadingHTTPServer:
    """Serve ``received`` on its port in a thread of its own, until ``shutdown``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            received.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", received.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hook() -> Iterator[Hook]:
    received = Hook(free_port())
    server = serve_hook(received)
    yield received
    server.shutdown()
    server.server_close()


RULES = """
[delivery]
repeat_interval = "{repeat}"
group_wait = "{group}"

[[rules]]
name = "lag"
type = "consumer_lag"
severity = "warning"
records = 100

[[rules]]
name = "drawdown"
type = "drawdown"
severity = "critical"
limit = "10"

[[rules]]
name = "rebuild"
type = "rebuild_failed"

[[rules]]
name = "accuracy"
type = "accuracy"
severity = "critical"

[channels.hook]
type = "webhook"
url = "http://127.0.0.1:{port}/alerts"
format = "generic"
"""


def with_rules(
    settings: Settings, tmp: Path, hook: Hook, repeat: str = "0", group: str = "0"
) -> Settings:
    path = tmp / "alerts.toml"
    path.write_text(RULES.format(port=hook.port, repeat=repeat, group=group))
    return replace(settings, alert_rules=path, notify_port=free_port())


def checked(
    settings: Settings, instance: str, lag: float, at: datetime, ingested: datetime | None = None
) -> None:
    """Publish one worker health check with ``lag`` records behind."""
    event = ServiceChecked(
        envelope=Envelope(
            event_id=EventId(f"{instance}|{at.isoformat()}"),
            ts_event=at,
            ts_ingested=ingested or datetime.now(UTC),
            producer="tests",
        ),
        service="worker",
        instance=instance,
        healthy=True,
        checks={"kafka": True},
        figures={"lag_records": lag},
        started_at=at - timedelta(hours=1),
    )
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topic("health"),
        key=f"worker|{instance}".encode(),
        value=default_codec().encode(event),
        headers=list(record_headers(schema_name(event), event.envelope.event_id)),
    )
    assert producer.flush(10) == 0


def losing_trades(count: int) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        at = f"2026-09-22T15:{n:02d}"
        events.append(execution(f"loss{n}-in", "buy", "21000", ts=f"{at}:00Z"))
        events.append(execution(f"loss{n}-out", "sell", f"{20990 - n}", ts=f"{at}:30Z"))
    return events


def fillstream(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fillstream", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def outcomes(settings: Settings) -> list[tuple[str, str, int, str]]:
    with connect(settings) as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "SELECT alert_id, state, repeat, outcome FROM alert_deliveries"
                " ORDER BY alert_id, state, repeat"
            ).fetchall()
        ]


def history(settings: Settings) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        return conn.execute(
            "SELECT rule, key, resolved_at IS NOT NULL FROM alert_history ORDER BY raised_at, key"
        ).fetchall()


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def alerting(settings: Settings, tmp_path: Path, hook: Hook) -> Iterator[tuple[Settings, Pipeline]]:
    settings = with_rules(settings, tmp_path, hook)
    yield from ((settings, p) for p in running(settings))


def notifier(settings: Settings) -> ServiceProcess:
    return ServiceProcess(settings, "notify", settings.notify_port)


def test_an_alert_is_delivered_once_through_restarts_rewinds_and_silences(
    alerting: tuple[Settings, Pipeline], hook: Hook
) -> None:
    settings, pipeline = alerting
    notify = notifier(settings).start()
    try:
        t0 = datetime.now(UTC).replace(microsecond=0)
        checked(settings, "a:1", 50, t0)
        checked(settings, "a:1", 150, t0 + timedelta(seconds=30))  # raised
        checked(settings, "a:1", 20, t0 + timedelta(seconds=60))  # resolved
        wait_for(lambda: len(hook.alerts("lag")) == 2, timeout=60, message="no lag alerts")
        raised, resolved = hook.alerts("lag")
        assert (raised["state"], resolved["state"]) == ("raised", "resolved")
        assert raised["key"] == resolved["key"] == "service=worker instance=a:1"
        assert raised["labels"]["value"] == "150" and raised["severity"] == "warning"
        assert raised["alert_id"] == resolved["alert_id"]
        wait_for(lambda: history(settings) == [("lag", "service=worker instance=a:1", True)],
                 timeout=30, message="the alert history was not projected")  # fmt: skip

        # the notifier rewound to the start of derived.alerts sends nothing again
        notify.stop()
        fillstream(settings, "offsets", "rewind", "alerts.notify", "--to-earliest", "--execute")
        notify.start()
        # the alert stage rewound derives the same alerts again: still nothing new is sent
        pipeline.worker.stop()
        out = fillstream(
            settings, "offsets", "rewind", "streams.alerts-health", "--to-earliest", "--execute"
        )
        assert "alerts-health" in out
        pipeline.worker.start()
        checked(settings, "a:1", 10, t0 + timedelta(seconds=90))  # a marker behind the replay
        checked(settings, "b:2", 500, t0 + timedelta(seconds=90))  # a new alert, delivered
        wait_for(lambda: len(hook.alerts("lag")) == 3, timeout=60, message="b:2 not delivered")
        assert hook.alerts("lag")[2]["key"] == "service=worker instance=b:2"
        wait_for(lambda: ready(settings.notify_port), timeout=30, message="notifier not ready")
        assert len(hook.alerts("lag")) == 3
        assert [o[1:] for o in outcomes(settings)] == [
            ("raised", 0, "delivered"),
            ("resolved", 0, "delivered"),
            ("raised", 0, "delivered"),
        ]

        # silenced: recorded, not sent
        out = fillstream(
            settings, "alerts", "silence", "--match", "rule=lag", "--match", "instance=c:3",
            "--for", "1h", "--comment", "maintenance", "--by", "tests",
        )  # fmt: skip
        assert "instance=c:3 rule=lag" in out and "maintenance" in out
        listed = fillstream(settings, "alerts", "silences", "--json")
        assert [s["matchers"] for s in json.loads(listed)] == [{"rule": "lag", "instance": "c:3"}]
        checked(settings, "c:3", 900, t0 + timedelta(seconds=120))
        # stale: its event entered the log two hours ago (history, not news)
        checked(settings, "d:4", 900, t0 - timedelta(hours=2), t0 - timedelta(hours=2))
        wait_for(lambda: len(outcomes(settings)) == 5, timeout=60, message="not claimed")
        by_instance = {o[0].split("|")[1]: o[3] for o in outcomes(settings)}
        assert by_instance["service=worker instance=c:3"] == "silenced"
        assert by_instance["service=worker instance=d:4"] == "stale"
        assert len(hook.alerts("lag")) == 3

        active = json.loads(fillstream(settings, "alerts", "list", "--json"))
        assert sorted(a["key"] for a in active) == [
            "service=worker instance=b:2",
            "service=worker instance=c:3",
            "service=worker instance=d:4",
        ]
        assert all(a["rule"] == "lag" and a["resolved_at"] is None for a in active)
    finally:
        notify.stop()


def test_a_drawdown_from_real_trades_is_delivered_and_reminded(
    settings: Settings, tmp_path: Path, hook: Hook
) -> None:
    """Executions through the bridge → trades → snapshots → the drawdown rule → the webhook;
    a raised alert is reminded every repeat interval, numbered."""
    settings = with_rules(settings, tmp_path, hook, repeat="1s")
    for _ in running(settings):
        notify = notifier(settings).start()
        try:
            assert post(settings, losing_trades(4))[0] == 202
            wait_for(lambda: hook.alerts("drawdown"), timeout=90, message="no drawdown alert")
            first = hook.alerts("drawdown")[0]
            assert first["state"] == "raised" and first["key"] == "account=Sim101"
            assert first["severity"] == "critical"
            assert float(first["labels"]["value"]) > 10
            wait_for(lambda: len(hook.alerts("drawdown")) >= 3, timeout=30, message="no reminders")
            reminders = [a["labels"].get("repeat") for a in hook.alerts("drawdown")[:3]]
            assert reminders == [None, "1", "2"]
            assert {a["alert_id"] for a in hook.alerts("drawdown")} == {first["alert_id"]}
        finally:
            notify.stop()


def test_imported_history_raises_in_the_history_only_and_live_figures_raise_anew(
    settings: Settings, tmp_path: Path, hook: Hook
) -> None:
    """A Trades export of old losing trades raises the drawdown alert in the history, sent to
    nobody; the drawdown still beyond the limit on live trades is raised anew, and sent."""
    settings = with_rules(replace(settings, imported_trades=True), tmp_path, hook)
    export = tmp_path / "history.csv"
    export.write_text("\n".join([
        HEADER,
        "1,NQ 12-26,Sim101,,Long,1,21000.00,20990.00,9/21/2026 1:35:00 PM,9/21/2026 1:40:00 PM,"
        ",Close,($204.18),($204.18),$4.18,$200.00,$0.00,$0.00,0,",
        "2,NQ 12-26,Sim101,,Long,1,21000.00,20995.00,9/21/2026 2:35:00 PM,9/21/2026 2:40:00 PM,"
        ",Close,($100.00),($304.18),$0.00,$100.00,$0.00,$0.00,0,",
    ]) + "\n")  # fmt: skip
    for _ in running(settings):
        notify = notifier(settings).start()
        try:
            fillstream(settings, "import", "trades", str(export), "--tz", "UTC")
            wait_for(lambda: [o for o in outcomes(settings) if o[3] == "stale"], timeout=120,
                     message=f"no alert recorded: {outcomes(settings)}")  # fmt: skip
            (recorded,) = outcomes(settings)
            assert recorded[1:] == ("raised", 0, "stale") and recorded[0].startswith("drawdown|")
            assert hook.alerts("drawdown") == []  # history: nobody is told
            # live trades, the drawdown still beyond the limit: raised anew, and told
            assert post(settings, losing_trades(2))[0] == 202
            wait_for(lambda: hook.alerts("drawdown"), timeout=90, message="no live alert")
            (told,) = hook.alerts("drawdown")
            assert told["state"] == "raised" and "history" not in told["labels"]
            assert told["alert_id"] != recorded[0]
            ended = [r for r in history(settings) if r[0] == "drawdown"]
            assert ended == [("drawdown", "account=Sim101", True),
                             ("drawdown", "account=Sim101", False)]  # fmt: skip
        finally:
            notify.stop()
    assert len(hook.alerts("drawdown")) == 1


def test_a_failed_rebuild_raises_and_the_next_good_one_resolves(
    alerting: tuple[Settings, Pipeline], hook: Hook
) -> None:
    from fillstream.commands.projections import _report_rebuild

    settings, _ = alerting
    notify = notifier(settings).start()
    try:
        _report_rebuild(settings, "trades", datetime.now(UTC), failed="the database went away")
        wait_for(lambda: hook.alerts("rebuild"), timeout=60, message="no rebuild alert")
        (raised,) = hook.alerts("rebuild")
        assert raised["state"] == "raised" and raised["key"] == "projection=trades"
        assert raised["summary"] == "rebuild of projection trades failed"
        out = fillstream(settings, "projections", "rebuild", "trades", "--json")
        assert json.loads(out)[0]["state"] == "live"
        wait_for(lambda: len(hook.alerts("rebuild")) == 2, timeout=60, message="not resolved")
        assert hook.alerts("rebuild")[1]["state"] == "resolved"
        assert hook.alerts("rebuild")[1]["summary"] == "rebuild of projection trades succeeded"
    finally:
        notify.stop()


def test_a_row_changed_by_hand_lowers_the_accuracy_and_raises_until_a_rebuild(
    alerting: tuple[Settings, Pipeline], hook: Hook
) -> None:
    settings, _ = alerting
    status, body = post(settings, losing_trades(4))
    assert status == 202, body
    count = "SELECT count(*) FROM trades"
    wait_for(lambda: query(settings, count) == [(4,)], timeout=60, message="no trades")
    with connect(settings) as conn:  # the live version's table, changed behind the projector
        conn.execute("UPDATE trades_v1 SET net_pnl = net_pnl + 1 WHERE trade_id ="
                     " (SELECT min(trade_id) FROM trades_v1)")  # fmt: skip
        conn.commit()
    notify = notifier(settings).start()
    try:
        first = verified(settings)
        assert first.returncode == 1, first.stderr  # different
        assert "75.0000% of rows identical" in first.stdout
        wait_for(lambda: hook.alerts("accuracy"), timeout=60, message="no accuracy alert")
        (raised,) = hook.alerts("accuracy")
        assert raised["state"] == "raised" and raised["key"] == "projection=trades"
        assert raised["summary"].startswith("data accuracy of trades: 75.0000% of rows")
        # the reports read the same accuracy, and the lag, from the projected health checks
        wait_for(lambda: report_health(settings)[0].get("trades") == 0.75, timeout=60,
                 message=f"the reports' accuracy: {report_health(settings)}")  # fmt: skip
        assert "worker" in report_health(settings)[1]
        out = fillstream(settings, "projections", "rebuild", "trades", "--accept-diff", "--json")
        assert json.loads(out)[0]["state"] == "live"
        again = verified(settings)
        assert again.returncode == 0, again.stdout + again.stderr
        wait_for(lambda: len(hook.alerts("accuracy")) == 2, timeout=60, message="not resolved")
        assert hook.alerts("accuracy")[1]["state"] == "resolved"
        assert "100.0000% of rows" in hook.alerts("accuracy")[1]["summary"]
        wait_for(lambda: report_health(settings)[0].get("trades") == 1.0, timeout=60,
                 message=f"the reports' accuracy: {report_health(settings)}")  # fmt: skip
    finally:
        notify.stop()


def report_health(settings: Settings) -> tuple[dict[str, float], dict[str, Lag]]:
    """The reports' latest accuracy per projection and lag per service, the last hour's."""
    now = datetime.now(UTC)
    given = parameters(now - timedelta(hours=1), now + timedelta(minutes=1))
    with connect(settings) as conn:
        accuracy = [accuracy_row(r) for r in conn.execute(ACCURACY_SQL, given)]
        lag = [lag_row(r) for r in conn.execute(LAG_SQL, given)]
    return {a.projection: a.accuracy for a in accuracy}, {g.service: g for g in lag}


def verified(settings: Settings) -> subprocess.CompletedProcess[str]:
    """``fillstream verify trades --record``, its exit status as it is."""
    return subprocess.run(
        [sys.executable, "-m", "fillstream", "verify", "trades", "--record"],
        cwd=PROJECT_ROOT, env={**os.environ, **settings.to_env()}, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def test_alerts_raised_together_are_grouped_into_one_notification(
    settings: Settings, tmp_path: Path, hook: Hook
) -> None:
    settings = with_rules(settings, tmp_path, hook, group="3s")
    for _ in running(settings):
        notify = notifier(settings).start()
        try:
            t0 = datetime.now(UTC).replace(microsecond=0)
            for instance in ("g:1", "g:2", "g:3"):
                checked(settings, instance, 900, t0)
            wait_for(lambda: hook.alerts("lag"), timeout=60, message="nothing delivered")
            wait_for(lambda: [o[3] for o in outcomes(settings)] == ["delivered"] * 3,
                     timeout=30, message="the grouped alerts were not all recorded")  # fmt: skip
            (grouped,) = hook.alerts("lag")
            assert grouped["labels"]["grouped"] == "3"
            assert grouped["key"].startswith("3 alerts: ")  # in the order they were read
            assert sorted(grouped["labels"]["keys"].split("; ")) == [
                f"service=worker instance=g:{n}" for n in (1, 2, 3)
            ]
            assert len(grouped["summary"].splitlines()) == 3
        finally:
            notify.stop()


def post_json(url: str, body: dict[str, Any], token: str, origin: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = origin
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    return answered(request, timeout=30)


def test_a_silence_made_in_the_dashboard_is_the_clis_and_the_notifier_honours_it(
    alerting: tuple[Settings, Pipeline], hook: Hook
) -> None:
    settings, _ = alerting
    token = settings.require_token()
    api = ServiceProcess(settings, "api", settings.api_port).start()
    notify = notifier(settings).start()
    try:
        url = f"{settings.api_url}/api/silences"
        body = {"matchers": {"rule": "lag", "instance": "e:5"}, "seconds": 3600,
                "comment": "maintenance"}  # fmt: skip
        # a change comes from a page of this server only
        assert post_json(url, body, token, origin=None)[0] == 403
        assert post_json(url, body, token, origin="http://127.0.0.1:1")[0] == 403
        assert post_json(url, {**body, "seconds": 5}, token, settings.api_url)[0] == 400
        status, made = post_json(url, body, token, origin=settings.api_url)
        assert status == 200 and made["created_by"] == "dashboard"

        # the CLI's own silences, as `fillstream alerts silence` records them
        listed = json.loads(fillstream(settings, "alerts", "silences", "--json"))
        assert [(s["id"], s["matchers"], s["created_by"], s["comment"]) for s in listed] == [
            (made["id"], {"rule": "lag", "instance": "e:5"}, "dashboard", "maintenance")
        ]
        # and the notifier holds the alert back
        checked(settings, "e:5", 900, datetime.now(UTC).replace(microsecond=0))
        wait_for(lambda: [o[3] for o in outcomes(settings)] == ["silenced"], timeout=60,
                 message="the alert was not held back")  # fmt: skip
        assert hook.alerts("lag") == []
        active = json.loads(fillstream(settings, "alerts", "list", "--json"))
        assert [a["key"] for a in active] == ["service=worker instance=e:5"]

        # ended in the page
        status, ended = post_json(f"{url}/{made['id']}/end", {}, token, settings.api_url)
        assert status == 200 and ended["id"] == made["id"]
        assert json.loads(fillstream(settings, "alerts", "silences", "--json")) == []
        assert post_json(f"{url}/nope/end", {}, token, settings.api_url)[0] == 404
    finally:
        notify.stop()
        api.stop()
