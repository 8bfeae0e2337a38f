"""Alert delivery without a network: what each channel says, the channels' configuration and
its errors, routing, the live feed's buffer, and the dispatcher's retries and isolation."""

from __future__ import annotations

import email
import itertools
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from alerts import render
from alerts.channels import (
    AlertFeed,
    Channel,
    EmailChannel,
    Routing,
    SmsChannel,
    WebhookChannel,
    channels_from_config,
)
from alerts.dispatch import Backoff, Dispatcher, Outcome
from alerts.errors import DeliveryError
from core.errors import ConfigError
from schemas.events import AlertChanged, AlertState, Envelope, EventId, Severity
from tests.fixtures.services import wait_for

RAISED_AT = datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC)
_ids = itertools.count(1)
_names = itertools.count(1)


def alert(**overrides: Any) -> AlertChanged:
    """A critical drawdown alert raised on Sim101, with a fresh event id."""
    at = overrides.pop("at", RAISED_AT)
    fields: dict[str, Any] = {
        "envelope": Envelope(
            event_id=EventId(f"evt-{next(_ids)}"), ts_event=at, ts_ingested=at, producer="tests"
        ),
        "rule": "drawdown",
        "key": "account=Sim101",
        "state": AlertState.RAISED,
        "severity": Severity.CRITICAL,
        "summary": "account=Sim101: drawdown 2,612.50 is over the limit 2,500",
        "labels": {"team": "desk"},
        "raised_at": RAISED_AT,
    }
    fields.update(overrides)
    return AlertChanged(**fields)


def unique(prefix: str) -> str:
    """A channel name no other test uses (the metrics are labelled by channel)."""
    return f"{prefix}-{next(_names)}"


# -- what each channel says ------------------------------------------------------------------


def test_subjects_name_severity_state_rule_and_key() -> None:
    assert render.subject(alert()) == "[CRITICAL] raised: drawdown account=Sim101"
    resolved = alert(state=AlertState.RESOLVED)
    assert render.subject(resolved) == "[RESOLVED] drawdown account=Sim101"
    assert render.subject(alert(key="account=A\r\nBcc: x@y")) == (
        "[CRITICAL] raised: drawdown account=A Bcc: x@y"
    )


def test_the_generic_body_is_the_whole_alert_as_json() -> None:
    a = alert(at=RAISED_AT + timedelta(minutes=5))
    assert json.loads(json.dumps(render.generic(a))) == {
        "alert_id": "drawdown|account=Sim101|2026-11-24T15:00:30+00:00",
        "rule": "drawdown",
        "key": "account=Sim101",
        "state": "raised",
        "severity": "critical",
        "summary": "account=Sim101: drawdown 2,612.50 is over the limit 2,500",
        "labels": {"team": "desk"},
        "raised_at": "2026-11-24T15:00:30Z",
        "ts_event": "2026-11-24T15:05:30Z",
    }


def test_slack_discord_and_teams_bodies_have_their_shapes() -> None:
    a = alert(summary="<!channel> & friends")
    assert render.slack(a) == {
        "text": "*[CRITICAL] raised: drawdown account=Sim101*\n&lt;!channel&gt; &amp; friends"
    }
    discord = render.discord(alert(summary="@everyone " + "x" * 3000))
    assert discord["content"].startswith("**[CRITICAL] raised: drawdown account=Sim101**\n")
    assert len(discord["content"]) == render.DISCORD_LIMIT
    assert discord["allowed_mentions"] == {"parse": []}
    teams = render.teams(alert(state=AlertState.RESOLVED))
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, summary, facts = card["body"]
    assert (title["text"], title["color"]) == ("[RESOLVED] drawdown account=Sim101", "Good")
    assert summary["text"] == alert().summary
    assert {"title": "team", "value": "desk"} in facts["facts"]
    assert {"title": "Alert id", "value": alert().alert_id} in facts["facts"]


def test_sms_is_one_line_within_160_characters() -> None:
    assert render.sms(alert()) == (
        "CRITICAL raised drawdown account=Sim101: "
        "account=Sim101: drawdown 2,612.50 is over the limit 2,500"
    )
    long = render.sms(alert(summary="line one\nline two " + "y" * 300))
    assert len(long) == 160 and "\n" not in long and long.endswith("…")
    assert render.sms(alert(state=AlertState.RESOLVED)).startswith("RESOLVED drawdown ")


def test_the_email_has_subject_recipients_and_every_field_in_its_body() -> None:
    channel = channels_from_config({"mail": _email_table()}, {"SMTP_PASSWORD": "s3cret"})["mail"]
    assert isinstance(channel, EmailChannel)
    message = email.message_from_bytes(channel.message(alert()).as_bytes())
    assert message["Subject"] == "[CRITICAL] raised: drawdown account=Sim101"
    assert message["To"] == "ops@example.com, desk@example.com"
    assert message["From"] == "fillstream@example.com"
    assert message["X-Fillstream-Alert"] == alert().alert_id
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    for line in (
        alert().summary,
        "rule:      drawdown",
        "key:       account=Sim101",
        "state:     raised",
        "severity:  critical",
        "labels:    team=desk",
        "raised at: 2026-11-24T15:00:30Z",
        f"alert id:  {alert().alert_id}",
    ):
        assert line in body


_text = st.text(st.characters(codec="utf-8"), max_size=400)


@given(
    summary=_text,
    key=_text,
    labels=st.dictionaries(_text, _text, max_size=5),
    severity=st.sampled_from(list(Severity)),
    state=st.sampled_from(list(AlertState)),
)
def test_any_alert_gives_valid_bodies_and_a_short_sms(
    summary: str, key: str, labels: dict[str, str], severity: Severity, state: AlertState
) -> None:
    a = alert(summary=summary, key=key, labels=labels, severity=severity, state=state)
    for body in (render.generic(a), render.slack(a), render.discord(a), render.teams(a)):
        assert json.loads(json.dumps(body, ensure_ascii=False)) == body
    assert render.generic(a)["labels"] == labels
    assert len(render.discord(a)["content"]) <= render.DISCORD_LIMIT
    text = render.sms(a)
    assert len(text) <= render.SMS_LIMIT
    assert text.isprintable()
    subject = render.subject(a)
    assert subject.isprintable()
    mail = EmailChannel.message(_built_email(), a)
    assert email.message_from_bytes(mail.as_bytes())["X-Fillstream-Alert"]


def _built_email() -> EmailChannel:
    channel = channels_from_config({"mail": _email_table()}, {"SMTP_PASSWORD": "pw"})["mail"]
    assert isinstance(channel, EmailChannel)
    return channel


# -- configuration ---------------------------------------------------------------------------

ENVIRON = {
    "SMTP_PASSWORD": "s3cret",
    "HOOK_TOKEN": "Bearer h00k",
    "SLACK_URL": "https://hooks.example.com/services/T0/B0/abc",
    "SMS_TOKEN": "sm5-t0ken",
    "FEED_TOKEN": "f" * 24,
}


def _email_table(**changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "type": "email",
        "host": "smtp.example.com",
        "username": "fillstream",
        "password_env": "SMTP_PASSWORD",
        "sender": "fillstream@example.com",
        "recipients": ["ops@example.com", "desk@example.com"],
    }
    table.update(changes)
    return {k: v for k, v in table.items() if v is not None}


def _tables() -> dict[str, dict[str, Any]]:
    return {
        "ops-mail": _email_table(),
        "hook": {
            "type": "webhook",
            "url": "https://alerts.example.com/in",
            "headers": {"X-Team": "desk"},
            "headers_env": {"Authorization": "HOOK_TOKEN"},
            "severities": ["critical"],
        },
        "slack": {"type": "webhook", "url_env": "SLACK_URL", "format": "slack", "resolved": False},
        "pager": {
            "type": "sms",
            "url": "https://sms.example.com/send",
            "token_env": "SMS_TOKEN",
            "recipients": ["+14155550123"],
            "severities": ["critical", "warning"],
        },
        "live": {"type": "feed", "token_env": "FEED_TOKEN", "buffer": 10},
    }


def test_a_full_configuration_builds_every_channel_type() -> None:
    channels = channels_from_config(_tables(), ENVIRON)
    mail, hook, slack, pager, live = channels.values()
    assert isinstance(mail, EmailChannel)
    assert (mail.smtp.port, mail.smtp.security, mail.smtp.password) == (587, "starttls", "s3cret")
    assert "s3cret" not in repr(mail)
    assert isinstance(hook, WebhookChannel)
    assert hook.headers == {"X-Team": "desk", "Authorization": "Bearer h00k"}
    assert "h00k" not in repr(hook)
    assert isinstance(slack, WebhookChannel) and slack.format == "slack"
    assert slack.url == ENVIRON["SLACK_URL"] and "abc" not in repr(slack)
    assert isinstance(pager, SmsChannel) and pager.token == "sm5-t0ken"
    assert "sm5" not in repr(pager)
    assert isinstance(live, AlertFeed) and live.path == "/alerts/feed"
    assert {name: channel.name for name, channel in channels.items()} == {
        name: name for name in _tables()
    }


def test_security_sets_the_default_port() -> None:
    for security, port in (("tls", 465), ("starttls", 587)):
        channel = channels_from_config({"m": _email_table(security=security)}, ENVIRON)["m"]
        assert isinstance(channel, EmailChannel) and channel.smtp.port == port
    relay = _email_table(security="none", username=None, password_env=None)
    channel = channels_from_config({"m": relay}, {})["m"]
    assert isinstance(channel, EmailChannel) and channel.smtp.port == 25


def test_a_feed_without_token_env_takes_the_process_token() -> None:
    channels = channels_from_config({"live": {"type": "feed"}}, {}, feed_token="t" * 16)
    assert isinstance(channels["live"], AlertFeed)
    with pytest.raises(ConfigError) as raised:
        channels_from_config({"live": {"type": "feed"}}, {})
    assert raised.value.setting == "channels.live.token_env"
    assert "FILLSTREAM_TOKEN" in raised.value.reason


def _changed(name: str, **changes: Any) -> dict[str, Any]:
    tables = _tables()
    for key, value in changes.items():
        if value is None:
            tables[name].pop(key, None)
        else:
            tables[name][key] = value
    return tables


@pytest.mark.parametrize(
    ("tables", "setting", "words"),
    [
        (_changed("ops-mail", port="abc"), "channels.ops-mail.port",
         "must be an integer 1-65535, was 'abc'"),
        (_changed("ops-mail", port=True), "channels.ops-mail.port", "integer"),
        (_changed("ops-mail", pasword_env="X"), "channels.ops-mail.pasword_env",
         "did you mean password_env"),
        (_changed("ops-mail", password="hunter2"), "channels.ops-mail.password",
         "password_env"),
        (_changed("ops-mail", password_env="NOT_SET_ANYWHERE"), "channels.ops-mail.password_env",
         "names NOT_SET_ANYWHERE, which is not set"),
        (_changed("ops-mail", security="ssl"), "channels.ops-mail.security",
         "starttls, tls, none"),
        (_changed("ops-mail", security="none"), "channels.ops-mail.username", "in clear"),
        (_changed("ops-mail", recipients=[]), "channels.ops-mail.recipients", "non-empty list"),
        (_changed("ops-mail", recipients=["ops"]), "channels.ops-mail.recipients", "'ops'"),
        (_changed("ops-mail", host=None), "channels.ops-mail.host", "is required"),
        (_changed("ops-mail", timeout=0), "channels.ops-mail.timeout", "positive"),
        (_changed("ops-mail", ca_file="/nonexistent/ca.pem"), "channels.ops-mail.ca_file",
         "readable PEM"),
        (_changed("ops-mail", type=None), "channels.ops-mail.type", "email, webhook, sms, feed"),
        (_changed("ops-mail", type="pager"), "channels.ops-mail.type", "'pager'"),
        (_changed("hook", url="ftp://files.example.com/x"), "channels.hook.url", "http"),
        (_changed("hook", url_env="SLACK_URL"), "channels.hook.url", "either url or url_env"),
        (_changed("hook", format="mattermost"), "channels.hook.format", "generic, slack"),
        (_changed("hook", headers={"Authorization": "Bearer x"}),
         "channels.hook.headers.Authorization", "headers_env"),
        (_changed("hook", headers_env={"Authorization": "UNSET_TOKEN"}),
         "channels.hook.headers_env.Authorization", "UNSET_TOKEN"),
        (_changed("hook", severities=["fatal"]), "channels.hook.severities", "'fatal'"),
        (_changed("slack", resolved="no"), "channels.slack.resolved", "true or false"),
        (_changed("pager", recipients=["0415 555 0123"]), "channels.pager.recipients",
         "+14155550123"),
        (_changed("pager", token_env=None), "channels.pager.token_env", "is required"),
        (_changed("pager", token="abc"), "channels.pager.token", "token_env"),
        (_changed("live", buffer=0), "channels.live.buffer", "1-100000"),
        (_changed("live", token_env="SMS_TOKEN"), "channels.live.token_env", "16 characters"),
        (_changed("live", path="alerts"), "channels.live.path", "/alerts/feed"),
        ({**_tables(), "live2": {"type": "feed", "token_env": "FEED_TOKEN"}},
         "channels.live2.path", "served by channels.live"),
        ({"ops mail": _email_table()}, "channels.ops mail", "name"),
        ({"x": "email"}, "channels.x", "must be a table"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_setting(
    tables: Mapping[str, Any], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        channels_from_config(tables, ENVIRON)
    assert raised.value.setting == setting
    assert words in raised.value.reason
    assert "\n" not in str(raised.value)
    for secret in ENVIRON.values():
        assert secret not in str(raised.value)


def test_routing_by_severity_and_resolution() -> None:
    channels = channels_from_config(_tables(), ENVIRON)
    warning = alert(severity=Severity.WARNING)
    resolved = alert(state=AlertState.RESOLVED)
    assert [n for n, c in channels.items() if c.wants(alert())] == list(_tables())
    assert [n for n, c in channels.items() if c.wants(warning)] == [
        "ops-mail", "slack", "pager", "live",
    ]  # fmt: skip
    assert [n for n, c in channels.items() if c.wants(resolved)] == [
        "ops-mail", "hook", "pager", "live",
    ]  # fmt: skip
    assert not Routing(severities=frozenset({Severity.INFO})).wants(alert())
    assert Routing().wants(alert(severity=Severity.INFO, state=AlertState.RESOLVED))


# -- the live feed's buffer ------------------------------------------------------------------


def test_the_feed_keeps_the_last_n_and_replays_after_an_id() -> None:
    feed = AlertFeed("live", token="t" * 16, buffer=3)
    for n in range(5):
        feed.send(alert(summary=f"alert {n}"))
    assert [e.sequence for e in feed.missed(None)] == []
    assert [e.sequence for e in feed.missed(0)] == [3, 4, 5]
    assert [e.sequence for e in feed.missed(3)] == [4, 5]
    assert [e.sequence for e in feed.missed(5)] == []
    assert [e.sequence for e in feed.missed(99)] == [3, 4, 5]  # an id from before a restart
    event = feed.missed(4)[0]
    assert json.loads(event.data) == render.generic(alert(summary="alert 4"))
    assert event.encoded().decode().splitlines()[:2] == ["id: 5", "event: alert"]


def test_a_subscriber_that_falls_behind_is_dropped_without_blocking_sends() -> None:
    feed = AlertFeed("live", token="t" * 16, queue_size=2)
    subscribed = feed.subscribe(None)
    assert subscribed is not None
    subscription, backlog = subscribed
    assert backlog == [] and feed.subscribers == 1
    for n in range(5):
        feed.send(alert(summary=f"alert {n}"))  # would hang here if a send waited
    assert subscription.dropped.is_set()
    assert feed.subscribers == 0
    assert subscription.events.get_nowait() is not None


def test_the_feed_refuses_subscribers_beyond_its_limit() -> None:
    feed = AlertFeed("live", token="t" * 16, max_subscribers=1)
    assert feed.subscribe(5) is not None
    assert feed.subscribe(None) is None


# -- the dispatcher --------------------------------------------------------------------------


class Flaky:
    """A channel that fails its first ``failures`` sends (forever with None)."""

    def __init__(self, name: str, failures: int | None = None) -> None:
        self.name = name
        self.failures = failures
        self.sent: list[AlertChanged] = []
        self.calls = 0
        self.routing = Routing()

    def wants(self, alert: AlertChanged) -> bool:
        return self.routing.wants(alert)

    def send(self, alert: AlertChanged) -> None:
        self.calls += 1
        if self.failures is None or self.calls <= self.failures:
            raise DeliveryError(self.name, f"failure {self.calls}")
        self.sent.append(alert)


class Gated(Flaky):
    """A channel whose sends wait until ``gate`` opens."""

    def __init__(self, name: str) -> None:
        super().__init__(name, failures=0)
        self.gate = threading.Event()

    def send(self, alert: AlertChanged) -> None:
        assert self.gate.wait(10), "the gate was never opened"
        super().send(alert)


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[AlertChanged, str, Outcome]] = []

    def __call__(self, alert: AlertChanged, channel: str, outcome: Outcome) -> None:
        with self.lock:
            self.seen.append((alert, channel, outcome))

    def of(self, channel: str) -> list[Outcome]:
        with self.lock:
            return [outcome for _, name, outcome in self.seen if name == channel]


def _dispatcher(
    channels: list[Channel], results: Results, waits: list[float] | None = None, **kw: Any
) -> Dispatcher:
    recorded = waits if waits is not None else []

    def wait(seconds: float) -> bool:
        recorded.append(seconds)
        return False

    return Dispatcher({c.name: c for c in channels}, results, wait=wait, **kw)


def test_the_default_backoff_doubles_from_one_second_to_a_minute() -> None:
    assert Backoff().schedule() == [1, 2, 4, 8, 16, 32, 60]
    assert Backoff(base=0.5, factor=3, cap=5, attempts=5).schedule() == [0.5, 1.5, 4.5, 5]
    with pytest.raises(ValueError):
        Backoff(attempts=0)


def test_a_failing_channel_is_retried_on_the_schedule_then_reported_failed() -> None:
    channel, results, waits = Flaky(unique("down")), Results(), list[float]()
    dispatcher = _dispatcher([channel], results, waits)
    assert dispatcher.submit(alert()) == [channel.name]
    (outcome,) = wait_for(lambda: results.of(channel.name))
    dispatcher.close()
    assert waits == Backoff().schedule()
    assert (outcome.delivered, outcome.attempts, outcome.label) == (False, 8, "failed")
    assert outcome.error == f"{channel.name}: failure 8"
    assert outcome.finished_at.tzinfo is UTC
    assert _sample("fillstream_alerts_deliveries_total", channel.name, outcome="failed") == 1
    assert _sample("fillstream_alerts_delivery_attempts_total", channel.name) == 8
    assert _sample("fillstream_alerts_queue_depth", channel.name) == 0


def test_a_channel_that_recovers_is_reported_delivered_with_its_attempts() -> None:
    channel, results, waits = Flaky(unique("flaky"), failures=2), Results(), list[float]()
    dispatcher = _dispatcher([channel], results, waits, backoff=Backoff(base=0.5, factor=4))
    dispatcher.submit(alert())
    (outcome,) = wait_for(lambda: results.of(channel.name))
    dispatcher.close()
    assert waits == [0.5, 2.0]
    assert (outcome.delivered, outcome.attempts) == (True, 3)
    assert outcome.error == f"{channel.name}: failure 2"
    assert len(channel.sent) == 1
    assert _sample("fillstream_alerts_deliveries_total", channel.name, outcome="delivered") == 1
    assert _sample("fillstream_alerts_delivery_seconds_count", channel.name) == 1


def test_a_stuck_channel_does_not_delay_the_others() -> None:
    stuck, healthy, results = Gated(unique("stuck")), Flaky(unique("ok"), failures=0), Results()
    dispatcher = _dispatcher([stuck, healthy], results)
    alerts = [alert(summary=f"alert {n}") for n in range(5)]
    for a in alerts:
        dispatcher.submit(a)
    wait_for(lambda: len(results.of(healthy.name)) == 5, message="the healthy channel waited")
    assert healthy.sent == alerts
    assert results.of(stuck.name) == []
    assert _sample("fillstream_alerts_queue_depth", stuck.name) == 5
    stuck.gate.set()
    dispatcher.close(timeout=10)
    assert [o.delivered for o in results.of(stuck.name)] == [True] * 5
    assert _sample("fillstream_alerts_queue_depth", stuck.name) == 0


def test_an_always_failing_channel_does_not_delay_the_others() -> None:
    down, healthy, results = Flaky(unique("down")), Flaky(unique("ok"), failures=0), Results()
    release = threading.Event()
    dispatcher = Dispatcher(
        {down.name: down, healthy.name: healthy}, results,
        wait=lambda seconds: release.wait(10) and False,
    )  # fmt: skip
    for n in range(3):
        dispatcher.submit(alert(summary=f"alert {n}"))
    wait_for(lambda: len(results.of(healthy.name)) == 3)
    assert results.of(down.name) == [] and down.calls == 1  # waiting to retry its first
    release.set()
    dispatcher.close(timeout=10)
    assert [o.attempts for o in results.of(down.name)] == [8, 8, 8]


def test_submit_routes_by_what_each_channel_wants_or_to_the_named_ones() -> None:
    everything, critical_only = Flaky(unique("all"), failures=0), Flaky(unique("crit"), 0)
    critical_only.routing = Routing(severities=frozenset({Severity.CRITICAL}))
    results = Results()
    dispatcher = _dispatcher([everything, critical_only], results)
    assert dispatcher.submit(alert(severity=Severity.INFO)) == [everything.name]
    assert dispatcher.submit(alert(severity=Severity.INFO), [critical_only.name]) == [
        critical_only.name
    ]
    with pytest.raises(ValueError, match="no channel named nowhere"):
        dispatcher.submit(alert(), ["nowhere"])
    dispatcher.close()
    assert len(results.of(everything.name)) == len(results.of(critical_only.name)) == 1
    with pytest.raises(RuntimeError):
        dispatcher.submit(alert())


def test_a_broken_channel_or_result_callback_does_not_end_the_worker() -> None:
    class Broken(Flaky):
        def send(self, alert: AlertChanged) -> None:
            self.calls += 1
            if self.calls == 1:
                raise KeyError("bug")
            super().send(alert)

    channel = Broken(unique("broken"), failures=0)
    seen: list[Outcome] = []

    def on_result(alert: AlertChanged, name: str, outcome: Outcome) -> None:
        seen.append(outcome)
        if len(seen) == 1:
            raise RuntimeError("the ledger is down")

    dispatcher = Dispatcher({channel.name: channel}, on_result, wait=lambda s: False)
    dispatcher.submit(alert())
    dispatcher.submit(alert(summary="second"))
    dispatcher.close()
    assert [(o.delivered, o.attempts) for o in seen] == [(True, 2), (True, 1)]
    assert seen[0].error is not None and "KeyError" in seen[0].error


def test_close_stops_retrying_and_leaves_the_rest_without_a_result() -> None:
    down, results = Flaky(unique("down")), Results()
    dispatcher = Dispatcher({down.name: down}, results, backoff=Backoff(base=3600))
    dispatcher.submit(alert())
    dispatcher.submit(alert(summary="queued behind"))
    wait_for(lambda: down.calls == 1)
    dispatcher.close(timeout=0.2)  # interrupts the hour-long wait
    assert results.of(down.name) == []
    assert down.calls == 1
    assert _sample("fillstream_alerts_queue_depth", down.name) == 0


def _sample(metric: str, channel: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"channel": channel, **labels})
