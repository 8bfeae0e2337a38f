"""Alert delivery over real sockets, all on loopback: e-mail through a real SMTP server that
requires STARTTLS and AUTH (a certificate made for the test), webhooks and SMS into a real HTTP
server, retries by the dispatcher, and the live feed read by a real HTTP client."""

from __future__ import annotations

import email
import http.client
import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from prometheus_client import CollectorRegistry

from alerts import render
from alerts.channels import AlertFeed, Channel, channels_from_config
from alerts.dispatch import Backoff, Dispatcher, Outcome
from alerts.errors import DeliveryError
from core.health import serve_health
from schemas.events import AlertChanged, AlertState
from tests.fixtures.services import free_port, wait_for
from tests.unit.alerts.test_channels import alert

pytestmark = pytest.mark.integration

USER, PASSWORD = "fillstream", "correct horse battery"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


# -- e-mail ----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[tuple[Envelope, Message]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's naming)
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, email.message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        assert session.ssl is not None, "AUTH before STARTTLS"
        good = data.login.decode() == USER and data.password.decode() == PASSWORD
        self.logins.append((mechanism, good))
        return AuthResult(success=good, handled=False)


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS, then AUTH (LOGIN or PLAIN)."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        auth_required=True, auth_require_tls=True, authenticator=mailbox.authenticate,
    )  # fmt: skip
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def _email(port: int, password: str, ca_file: Path | None) -> Channel:
    table: dict[str, Any] = {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "username": USER,
        "password_env": "TEST_SMTP_PASSWORD",
        "sender": "fillstream@example.com",
        "recipients": ["ops@example.com", "desk@example.com"],
        "timeout": 10,
    }
    if ca_file is not None:
        table["ca_file"] = str(ca_file)
    return channels_from_config({"mail": table}, {"TEST_SMTP_PASSWORD": password})["mail"]


def test_email_is_delivered_over_starttls_with_auth(
    smtp: tuple[int, Mailbox], certificate: tuple[Path, Path]
) -> None:
    port, mailbox = smtp
    raised = alert()
    _email(port, PASSWORD, certificate[0]).send(raised)
    (envelope, message), *_ = mailbox.messages
    assert mailbox.logins and all(good for _, good in mailbox.logins)
    assert envelope.mail_from == "fillstream@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "desk@example.com"]
    assert message["Subject"] == "[CRITICAL] raised: drawdown account=Sim101"
    assert message["To"] == "ops@example.com, desk@example.com"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert raised.summary in body and raised.alert_id in body and "team=desk" in body
    assert len(mailbox.messages) == 1


def test_email_with_a_wrong_password_is_a_delivery_error(
    smtp: tuple[int, Mailbox], certificate: tuple[Path, Path]
) -> None:
    port, mailbox = smtp
    with pytest.raises(DeliveryError) as failed:
        _email(port, "wrong password", certificate[0]).send(alert())
    assert failed.value.channel == "mail"
    assert "refused the login of 'fillstream'" in failed.value.reason
    assert "wrong password" not in str(failed.value)
    assert mailbox.messages == [] and mailbox.logins


def test_email_to_a_server_whose_certificate_is_not_trusted_is_a_delivery_error(
    smtp: tuple[int, Mailbox],
) -> None:
    port, mailbox = smtp
    with pytest.raises(DeliveryError) as failed:
        _email(port, PASSWORD, None).send(alert())  # the system's CAs only
    assert "certificate not trusted" in failed.value.reason
    assert mailbox.messages == [] and mailbox.logins == []  # no password sent


# -- webhooks and SMS ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST; ``script(path, 500, 200)`` answers a
    path's next requests with those statuses (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._scripts: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    script = receiver._scripts.get(self.path, [])
                    status = script.pop(0) if script else 200
                location = f"{receiver.url}/elsewhere"
                self.send_response(status)
                if status in (301, 302, 303, 307, 308):
                    self.send_header("Location", location)
                reply = b"boom" if status >= 500 else b"ok"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:  # noqa: N802
                self.do_POST()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._scripts[path] = list(statuses)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _webhooks(receiver: Receiver, **environ: str) -> dict[str, Channel]:
    return channels_from_config(
        {
            "hook": {
                "type": "webhook",
                "url": f"{receiver.url}/generic",
                "headers": {"X-Team": "desk"},
                "headers_env": {"Authorization": "TEST_HOOK_AUTH"},
                "timeout": 5,
            },
            "slack": {"type": "webhook", "url_env": "TEST_SLACK_URL", "format": "slack"},
            "teams": {"type": "webhook", "url": f"{receiver.url}/teams", "format": "teams"},
            "pager": {
                "type": "sms",
                "url": f"{receiver.url}/sms",
                "token_env": "TEST_SMS_TOKEN",
                "recipients": ["+14155550123", "+447700900123"],
            },
        },
        {
            "TEST_HOOK_AUTH": "Bearer hook-secret",
            "TEST_SLACK_URL": f"{receiver.url}/services/T0/B0/slack-secret",
            "TEST_SMS_TOKEN": "sms-secret",
            **environ,
        },
    )


def test_webhooks_post_their_format_with_their_headers(receiver: Receiver) -> None:
    channels = _webhooks(receiver)
    raised = alert()
    for name in ("hook", "slack", "teams"):
        channels[name].send(raised)
    (generic,) = receiver.at("/generic")
    assert generic.body == render.generic(raised)
    assert generic.headers["Authorization"] == "Bearer hook-secret"
    assert generic.headers["X-Team"] == "desk"
    assert generic.headers["Content-Type"] == "application/json"
    (slack,) = receiver.at("/services/T0/B0/slack-secret")
    assert slack.body == {"text": render.slack(raised)["text"]}
    (teams,) = receiver.at("/teams")
    assert teams.body["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_a_status_other_than_2xx_is_a_delivery_error_naming_it(receiver: Receiver) -> None:
    channels = _webhooks(receiver)
    receiver.script("/generic", 404)
    with pytest.raises(DeliveryError) as failed:
        channels["hook"].send(alert())
    assert "HTTP 404" in failed.value.reason
    receiver.script("/services/T0/B0/slack-secret", 302)
    with pytest.raises(DeliveryError) as redirected:
        channels["slack"].send(alert())
    assert "HTTP 302" in redirected.value.reason
    assert "slack-secret" not in str(redirected.value)  # the URL's path is a secret
    assert receiver.at("/elsewhere") == []


def test_an_unreachable_webhook_is_a_delivery_error(receiver: Receiver) -> None:
    channel = channels_from_config(
        {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/x", "timeout": 5}},
        {},
    )["hook"]
    with pytest.raises(DeliveryError, match="unreachable"):
        channel.send(alert())


def test_sms_posts_each_recipient_a_short_body_with_the_bearer_token(receiver: Receiver) -> None:
    pager = _webhooks(receiver)["pager"]
    raised = alert(summary="drawdown " + "very " * 60 + "deep")
    pager.send(raised)
    posted = receiver.at("/sms")
    assert [p.body["to"] for p in posted] == ["+14155550123", "+447700900123"]
    assert {p.body["body"] for p in posted} == {render.sms(raised)}
    assert all(len(p.body["body"]) <= 160 and set(p.body) == {"to", "body"} for p in posted)
    assert all(p.headers["Authorization"] == "Bearer sms-secret" for p in posted)


def test_an_sms_retry_texts_only_the_recipients_not_reached(receiver: Receiver) -> None:
    pager = _webhooks(receiver)["pager"]
    receiver.script("/sms", 200, 503)
    with pytest.raises(DeliveryError) as failed:
        pager.send(alert())
    assert "…0123: " in failed.value.reason and "HTTP 503" in failed.value.reason
    pager.send(alert())
    assert [p.body["to"] for p in receiver.at("/sms")] == [
        "+14155550123", "+447700900123", "+447700900123",
    ]  # fmt: skip


def test_the_dispatcher_retries_a_500_until_delivered(receiver: Receiver) -> None:
    channels = _webhooks(receiver)
    for name in ("slack", "teams"):  # fresh names for the metrics' channel label
        del channels[name]
    receiver.script("/generic", 500, 500)
    receiver.script("/sms", 500)
    results: list[tuple[str, Outcome]] = []
    lock = threading.Lock()

    def on_result(alert: AlertChanged, channel: str, outcome: Outcome) -> None:
        with lock:
            results.append((channel, outcome))

    dispatcher = Dispatcher(channels, on_result, backoff=Backoff(base=0.01, cap=0.05))
    raised = alert()
    assert dispatcher.submit(raised) == ["hook", "pager"]
    wait_for(lambda: len(results) == 2, timeout=10)
    dispatcher.close(timeout=5)
    outcomes = dict(results)
    assert (outcomes["hook"].delivered, outcomes["hook"].attempts) == (True, 3)
    assert "HTTP 500" in str(outcomes["hook"].error)
    assert (outcomes["pager"].delivered, outcomes["pager"].attempts) == (True, 2)
    assert [r.body for r in receiver.at("/generic")] == [render.generic(raised)] * 3
    assert [p.body["to"] for p in receiver.at("/sms")] == [
        "+14155550123", "+447700900123", "+14155550123",
    ]  # fmt: skip


# -- the live feed ---------------------------------------------------------------------------


@pytest.fixture
def feed() -> Iterator[tuple[int, AlertFeed, str]]:
    """A feed on its own ``serve_health`` server, as the notifier runs it; (port, feed, token)."""
    token = secrets.token_urlsafe(24)
    feed = channels_from_config({"live": {"type": "feed", "heartbeat": 0.2}}, {}, feed_token=token)
    assert isinstance(feed["live"], AlertFeed)
    port = free_port()
    server = serve_health(
        "127.0.0.1", port, lambda: {"ok": True}, registry=CollectorRegistry(),
        routes={feed["live"].path: feed["live"].handle},
    )  # fmt: skip
    yield port, feed["live"], token
    feed["live"].close()
    server.shutdown()
    server.server_close()


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    return connection, connection.getresponse()


def _hang_up(connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
    response.close()  # the response holds the socket open too
    connection.close()


def _next_event(response: http.client.HTTPResponse) -> dict[str, str]:
    """The next ``event: alert`` of the stream (comments and ``retry:`` skipped)."""
    fields: dict[str, str] = {}
    while True:
        line = response.readline().decode()
        assert line, "the stream ended"
        line = line.rstrip("\n")
        if line == "":
            if fields.get("event") == "alert":
                return fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def test_the_feed_streams_alerts_and_replays_what_a_client_missed(
    feed: tuple[int, AlertFeed, str],
) -> None:
    port, live, token = feed
    first, second, third, fourth = (alert(summary=f"alert {n}") for n in range(4))
    connection, response = _get(port, "/alerts/feed", {"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    wait_for(lambda: live.subscribers == 1)
    live.send(first)
    event = _next_event(response)
    assert event["id"] == "1"
    assert json.loads(event["data"]) == render.generic(first)
    _hang_up(connection, response)
    wait_for(lambda: live.subscribers == 0, message="the closed stream was not noticed")

    live.send(second)
    live.send(third)
    connection, response = _get(port, f"/alerts/feed?token={token}", {"Last-Event-ID": event["id"]})
    assert [_next_event(response)["id"] for _ in range(2)] == ["2", "3"]
    live.send(fourth)
    following = _next_event(response)  # nothing else came between the missed and the new
    assert (following["id"], json.loads(following["data"])["summary"]) == ("4", "alert 3")
    _hang_up(connection, response)


def test_the_feed_sends_heartbeats(feed: tuple[int, AlertFeed, str]) -> None:
    port, _, token = feed
    connection, response = _get(port, f"/alerts/feed?token={token}")
    lines = [response.readline() for _ in range(3)]
    assert lines == [b"retry: 3000\n", b"\n", b": keep-alive\n"]
    _hang_up(connection, response)


def test_the_feed_requires_the_token(feed: tuple[int, AlertFeed, str]) -> None:
    port, live, token = feed
    for headers, path in (
        ({}, "/alerts/feed"),
        ({"Authorization": "Bearer wrong"}, "/alerts/feed"),
        ({}, "/alerts/feed?token=wrong"),
        ({"Authorization": f"Basic {token}"}, "/alerts/feed"),
    ):
        connection, response = _get(port, path, headers)
        assert response.status == 401, (headers, path)
        assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
        assert token not in response.read().decode()
        _hang_up(connection, response)
    assert live.subscribers == 0
    for path, status in (("/healthz", 200), ("/readyz", 200), ("/metrics", 200), ("/x", 404)):
        connection, response = _get(port, path)
        assert response.status == status, path
        _hang_up(connection, response)


def test_a_dispatched_alert_reaches_the_feed_and_a_webhook(
    feed: tuple[int, AlertFeed, str], receiver: Receiver
) -> None:
    port, live, token = feed
    hook = channels_from_config(
        {"hook-live": {"type": "webhook", "url": f"{receiver.url}/generic", "resolved": False}},
        {},
    )["hook-live"]
    connection, response = _get(port, f"/alerts/feed?token={token}")
    wait_for(lambda: live.subscribers == 1)
    results: list[Outcome] = []
    dispatcher = Dispatcher({"live": live, "hook-live": hook}, lambda a, c, o: results.append(o))
    resolved = alert(state=AlertState.RESOLVED)
    assert dispatcher.submit(resolved) == ["live"]
    assert json.loads(_next_event(response)["data"])["state"] == "resolved"
    assert dispatcher.submit(alert()) == ["live", "hook-live"]
    wait_for(lambda: len(results) == 3)
    dispatcher.close()
    assert len(receiver.at("/generic")) == 1
    _hang_up(connection, response)
