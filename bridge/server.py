"""The ingest HTTP server: ``POST /v1/events``, ``POST /v1/assignments`` (which experiment arm
runs a signal), ``POST /v1/decisions`` (the pre-trade gate) and ``GET /v1/halts``, plus
``/healthz``, ``/readyz`` and ``/metrics``.

Acknowledged means durable: 2xx only after Kafka acknowledged every event of the request or,
when Kafka is unreachable, after they were fsync'd into the disk spool (see ``publisher``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge import metrics
from bridge.errors import PublishError
from bridge.experiments import ExperimentFollower
from bridge.gate import Gate, GateUnavailable
from bridge.parsing import EVENT_CLASSES, loads, parse_events, parse_proposal
from bridge.publisher import Publisher
from core.errors import InvalidEventError, InvalidEventsError
from core.settings import Settings
from core.text import plain
from domain.experiments.model import Assignment, assign
from schemas.events import (
    BridgeHeartbeat,
    Envelope,
    Event,
    EventId,
    ExperimentArm,
    Source,
    TradeDecided,
    VariantAssigned,
)

log = logging.getLogger("fillstream.bridge")

MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 1000
PRODUCER = "fillstream-bridge/0.1.0"
_TYPE_NAMES = {cls: name for name, cls in EVENT_CLASSES.items()}
_PUBLISHER = web.AppKey("publisher", Publisher)
_TOKEN = web.AppKey("token", str)
_FEED = web.AppKey("feed", metrics.FeedMonitor)
_EXPERIMENTS = web.AppKey("experiments", ExperimentFollower)
_GATE = web.AppKey("gate", Gate)


def create_app(
    settings: Settings, publisher: Publisher, experiments: ExperimentFollower, gate: Gate
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors])
    app[_PUBLISHER] = publisher
    app[_EXPERIMENTS] = experiments
    app[_GATE] = gate
    app[_TOKEN] = settings.require_token()
    app[_FEED] = metrics.feed_monitor(settings.feed_silence_seconds)
    app.router.add_post("/v1/events", post_events)
    app.router.add_post("/v1/assignments", post_assignment)
    app.router.add_post("/v1/decisions", post_decision)
    app.router.add_get("/v1/halts", get_halts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


def _problem(status: int, reason: str, errors: list[dict[str, Any]] | None = None) -> web.Response:
    metrics.EVENTS_REJECTED.labels(reason).inc()
    body: dict[str, Any] = {"error": reason}
    if errors is not None:
        body["errors"] = errors
    return web.json_response(body, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPRequestEntityTooLarge:
        return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes; send smaller batches")


async def post_events(request: web.Request) -> web.Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    started = time.perf_counter()
    body = await request.read()
    try:
        document = loads(body)
        if isinstance(document, list) and len(document) > MAX_BATCH:
            raise InvalidEventError(
                "body", f"holds {len(document)} events; at most {MAX_BATCH} per request"
            )
        events = parse_events(document, ts_ingested=datetime.now(UTC), producer=PRODUCER)
    except InvalidEventError as e:
        return _problem(400, str(e), [{"field": e.field, "reason": e.reason}])
    except InvalidEventsError as e:
        errors = [{"field": err.field, "reason": err.reason} for err in e.errors]
        return _problem(422, "invalid events; nothing was accepted", errors)
    try:
        stored = await request.app[_PUBLISHER].publish(events)
    except OSError as e:  # the spool's disk failed as well
        metrics.PUBLISH_FAILURES.inc()
        log.error("neither Kafka nor the spool could store %d events: %s", len(events), e)
        return _problem(
            503, f"Kafka is unreachable and the spool failed ({e}); nothing stored, retry"
        )
    metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
    _count(events, request.app[_FEED])
    return web.json_response({"accepted": len(events), "stored": stored.value}, status=202)


async def post_assignment(request: web.Request) -> web.Response:
    """Which experiment arm runs this signal (``domain.experiments.model.assign``)? An assignment to
    an experiment is published to ``raw.assignments`` before it is answered."""
    started = time.perf_counter()
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        query = loads(await request.read())
    except InvalidEventError as e:
        return _problem(400, str(e), [{"field": e.field, "reason": e.reason}])
    errors = [
        {"field": name, "reason": "is required (a non-empty string)"}
        for name in ("signal_id", "strategy")
        if not isinstance(query, dict) or not isinstance(query.get(name), str) or not query[name]
    ]
    if errors:
        return _problem(422, "invalid assignment request", errors)
    follower = request.app[_EXPERIMENTS]
    if follower.loaded.is_set():
        assignment = assign(follower.experiments, query["strategy"], query["signal_id"])
    else:
        assignment = Assignment(
            experiment_id=None,
            arm=ExperimentArm.CONTROL,
            variant=None,
            reason="the experiments are not loaded yet (is Kafka reachable?)",
        )
    if assignment.experiment_id is not None:
        event = assigned(assignment, query["signal_id"], query["strategy"])
        try:
            await request.app[_PUBLISHER].publish([event])
        except PublishError as e:
            log.error("assignment of %s not stored (%s); answering control", event.signal_id, e)
            return _problem(503, f"the assignment could not be stored: {e}")
    metrics.ASSIGNMENTS.labels(assignment.arm.value).inc()
    metrics.ASSIGNMENT_SECONDS.observe(time.perf_counter() - started)
    return web.json_response(
        {
            "signal_id": query["signal_id"],
            "strategy": query["strategy"],
            "experiment": assignment.experiment_id,
            "arm": assignment.arm.value,
            "variant": assignment.variant,
            "step": assignment.step,
            "treatment_percent": assignment.treatment_percent,
            "reason": assignment.reason,
        }
    )


async def post_decision(request: web.Request) -> web.Response:
    """The pre-trade gate's decision on a proposed entry (``bridge.gate``), stored in Kafka
    before it is answered. Bad input: 4xx naming each field, and nothing stored."""
    started = time.perf_counter()
    refused = _refused(request)
    if refused is not None:
        return refused
    body = await request.read()
    parsing = time.perf_counter()
    try:
        proposal = parse_proposal(loads(body))
    except InvalidEventError as e:
        return _problem(400, str(e), [{"field": e.field, "reason": e.reason}])
    except InvalidEventsError as e:
        errors = [{"field": err.field, "reason": err.reason} for err in e.errors]
        return _problem(422, "invalid decision request; nothing was decided", errors)
    metrics.DECISION_PART_SECONDS.labels("parse").observe(time.perf_counter() - parsing)
    try:
        decision = await request.app[_GATE].decide(proposal)
    except GateUnavailable as e:
        metrics.DECISIONS.labels("unavailable").inc()
        return _problem(503, str(e))
    metrics.DECISIONS.labels(decision.decision.value).inc()
    metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
    return web.json_response(decision_json(decision))


def decision_json(decision: TradeDecided) -> dict[str, Any]:
    """A decision as ``POST /v1/decisions`` answers it (money and figures as decimal strings)."""
    return {
        "decision_id": decision.decision_id,
        "signal_id": decision.signal_id,
        "decision": decision.decision.value,
        "quantity": decision.quantity,
        "rules": [
            {
                "rule": v.rule,
                "kind": v.kind,
                "mode": v.mode.value,
                "verdict": v.verdict.value,
                "value": plain(v.value),
                "limit": plain(v.limit),
                "reason": v.reason,
                "halt": v.halt,
            }
            for v in decision.rules
        ],
        "sizing": {"method": decision.sizing_method, "arithmetic": decision.sizing},
        "calibrated_confidence": decision.calibrated_confidence,
        "calibration_version": decision.calibration_version,
        "rules_version": decision.rules_version,
        "trading_day": decision.trading_day,
        "halted": None
        if decision.halt_id is None
        else {"halt_id": decision.halt_id, "started": decision.halt_started},
    }


async def get_halts(request: web.Request) -> web.Response:
    """The halts in force: what the gate denies every entry of until the session ends or a
    person resumes it."""
    if not _authorized(request):
        return _unauthorized()
    halts = request.app[_GATE].halts()
    return web.json_response(
        {
            "halts": [
                {
                    "halt_id": h.halt_id,
                    "account": h.scope.account,
                    "strategy": h.scope.strategy,
                    "instrument": h.scope.instrument,
                    "rule": h.rule,
                    "reason": h.reason,
                    "since": h.since.isoformat(),
                    "trading_day": None if h.trading_day is None else h.trading_day.isoformat(),
                    "actor": h.actor,
                }
                for h in halts
            ]
        }
    )


def assigned(assignment: Assignment, signal_id: str, strategy: str) -> VariantAssigned:
    """The event of an assignment to an experiment."""
    assert assignment.experiment_id is not None and assignment.variant is not None
    now = datetime.now(UTC)
    return VariantAssigned(
        envelope=Envelope(
            event_id=EventId(f"as-{assignment.experiment_id}|{signal_id}"),
            ts_event=now,
            ts_ingested=now,
            source=Source.LIVE,
            producer=PRODUCER,
        ),
        experiment_id=assignment.experiment_id,
        signal_id=signal_id,
        strategy=strategy,
        arm=assignment.arm,
        variant=assignment.variant,
        step=assignment.step,
        treatment_percent=assignment.treatment_percent,
        bucket=assignment.bucket,
    )


def _count(events: list[Event], feed: metrics.FeedMonitor) -> None:
    for event in events:
        metrics.EVENTS_ACCEPTED.labels(_TYPE_NAMES[type(event)]).inc()
        if isinstance(event, BridgeHeartbeat):
            feed.heartbeat(event.connection)


def _refused(request: web.Request) -> web.Response | None:
    """The answer to a POST without the token (401) or whose body is not JSON (415); None for
    one to serve."""
    if not _authorized(request):
        return _unauthorized()
    if request.content_type != "application/json":
        return _problem(415, f"Content-Type must be application/json, was {request.content_type!r}")
    return None


def _unauthorized() -> web.Response:
    return _problem(401, "missing or wrong bearer token (Authorization: Bearer $FILLSTREAM_TOKEN)")


def _authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), request.app[_TOKEN].encode())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to accept events: Kafka reachable, or the spool takes them while it is not.

    The body also names NinjaTrader connections silent for longer than the configured interval,
    and says whether the experiments were read (until then every signal is assigned control).
    """
    feed = request.app[_FEED]
    ages = feed.ages()
    # asking the broker can take its whole timeout: off the event loop, so requests go on
    loop = asyncio.get_running_loop()
    kafka = await loop.run_in_executor(None, request.app[_PUBLISHER].kafka_reachable, 2.0)
    body = {
        "kafka": kafka,
        "feed_age_seconds": {name: round(age, 1) for name, age in ages.items()},
        "silent_feeds": sorted(name for name, age in ages.items() if age > feed.silence_seconds),
        "experiments_loaded": request.app[_EXPERIMENTS].loaded.is_set(),
        "gate_loaded": request.app[_GATE].loaded.is_set(),
        "gate_rules_version": request.app[_GATE].rules.version,
    }
    return web.json_response(body)


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
