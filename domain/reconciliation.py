"""Position reconciliation: NinjaTrader's reported position of an account and instrument against
the one fillstream derives from the executions. Pure.

A ``Pair`` holds both sides of one account and instrument: the last position NinjaTrader
reported (``PositionUpdated``: long ``+quantity``, short ``-quantity``, flat 0) and the open
quantity of each strategy's book (``PositionChanged.quantity``, signed), whose sum is the
derived position. ``report`` and ``derive`` fold an event into it; ``settle`` decides.

**Settling.** The two sides never move at the same instant (NinjaTrader reports the position
when it has changed, the derived one follows once matching has applied the fill), so a
disagreement counts only once it has lasted ``grace`` with no further change of either side's
amount. ``settle`` is told where the stream stands in event time (``now``: the stage passes the
earliest of both sides' latest event times, so neither side can still bring a change from
before it) and, when the stream has nothing more to read, the wall clock (``clock``: compared
with the last change's ingestion time, as matching's grace window does). Either past the last
change plus ``grace`` settles the pair.

**What is published.** A ``PositionDrift``:

- ``resolved=false`` once a disagreement has settled, with both amounts and ``since`` (the event
  time the two sides began to disagree);
- ``resolved=false`` again, same ``since``, if the amounts change while they still disagree and
  the new ones settle (the drift is the same one: an alert stays raised);
- ``resolved=true`` once they agree again *and that has settled too*, so two sides passing
  through agreement on the way to another disagreement resolve nothing.

Its ``ts_event`` is the last change's event time plus ``grace`` (the moment it settled in event
time) and its id is made of what it says, so a replay of the same log publishes the same drifts
with the same ids. A derived change older than the strategy's last one (its ``sequence`` not
greater: a redelivery, or matching rewound and deriving again) changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from schemas.events import (
    Envelope,
    EventId,
    MarketPosition,
    PositionChanged,
    PositionDrift,
    PositionUpdated,
    Source,
)

PRODUCER = "fillstream streams.reconciliation"


@dataclass(frozen=True, slots=True)
class Drift:
    """The drift last published as open: what it said."""

    reported: int
    derived: int
    since: datetime


@dataclass(frozen=True, slots=True)
class Pair:
    """Both sides of one account and instrument; see the module docstring."""

    account: str
    instrument: str
    reported: int | None = None
    """NinjaTrader's last report, signed; None: it has reported none."""
    derived: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Strategy ('' for none) → its book's signed open quantity and the ``sequence`` of the
    ``PositionChanged`` that said so."""
    changed_at: datetime | None = None
    """Event time of the last change of either side's amount."""
    ingested_at: datetime | None = None
    """Ingestion time of that change."""
    cause: str = ""
    """Event id of that change."""
    since: datetime | None = None
    """When the two sides began to disagree; None while they agree."""
    open: Drift | None = None
    """The drift published and not yet resolved."""

    @property
    def derived_total(self) -> int:
        return sum(quantity for quantity, _ in self.derived.values())

    @property
    def reported_total(self) -> int:
        return self.reported or 0

    @property
    def agree(self) -> bool:
        return self.reported_total == self.derived_total

    @property
    def pending(self) -> bool:
        """Whether settling would publish something."""
        if self.agree:
            return self.open is not None
        return self.open is None or (self.open.reported, self.open.derived) != (
            self.reported_total,
            self.derived_total,
        )


def signed(report: PositionUpdated) -> int:
    """A reported position as a signed quantity: long +, short -, flat (or unknown) 0."""
    if report.market_position is MarketPosition.LONG:
        return report.quantity
    if report.market_position is MarketPosition.SHORT:
        return -report.quantity
    return 0


def report(pair: Pair, event: PositionUpdated) -> Pair:
    """``pair`` after NinjaTrader reported ``event``."""
    return _changed(
        replace(pair, reported=signed(event)), pair, event.envelope, fresh=pair.reported is None
    )


def derive(pair: Pair, event: PositionChanged) -> Pair:
    """``pair`` after matching published ``event`` for one of its strategies."""
    strategy = event.strategy or ""
    before = pair.derived.get(strategy)
    if before is not None and event.sequence <= before[1]:
        return pair
    derived = {**pair.derived, strategy: (event.quantity, event.sequence)}
    if not event.quantity:
        del derived[strategy]
    return _changed(replace(pair, derived=derived), pair, event.envelope, fresh=False)


def _changed(after: Pair, before: Pair, envelope: Envelope, *, fresh: bool) -> Pair:
    """``after`` with its change noted, if either side's amount changed (or NinjaTrader's first
    report came)."""
    moved = (after.reported_total, after.derived_total) != (
        before.reported_total,
        before.derived_total,
    )
    if not moved and not fresh:
        return after
    at = envelope.ts_event
    since = None if after.agree else (before.since if not before.agree else at)
    changed_at = at if before.changed_at is None else max(before.changed_at, at)
    ingested = envelope.ts_ingested
    if before.ingested_at is not None:
        ingested = max(before.ingested_at, ingested)
    return replace(
        after, changed_at=changed_at, ingested_at=ingested, cause=envelope.event_id, since=since
    )


def settled(
    pair: Pair, grace: timedelta, now: datetime | None, clock: datetime | None = None
) -> bool:
    """Whether the pair's last change has lasted ``grace``: in event time (``now``) or, the
    stream read to its end, on the ``clock`` since it was ingested."""
    if pair.changed_at is None:
        return True
    if now is not None and now >= pair.changed_at + grace:
        return True
    return clock is not None and pair.ingested_at is not None and clock >= pair.ingested_at + grace


def settle(
    pair: Pair, grace: timedelta, now: datetime | None, clock: datetime | None = None
) -> tuple[Pair, PositionDrift | None]:
    """The pair and the ``PositionDrift`` to publish, if it is pending and has settled."""
    if not pair.pending or not settled(pair, grace, now, clock):
        return pair, None
    reported, derived = pair.reported_total, pair.derived_total
    if pair.agree:
        assert pair.open is not None
        drift = _drift(pair, grace, pair.open.since, resolved=True)
        return replace(pair, open=None), drift
    since = pair.open.since if pair.open is not None else pair.since or pair.changed_at
    assert since is not None
    drift = _drift(pair, grace, since, resolved=False)
    return replace(pair, open=Drift(reported, derived, since)), drift


def _drift(pair: Pair, grace: timedelta, since: datetime, *, resolved: bool) -> PositionDrift:
    assert pair.changed_at is not None and pair.ingested_at is not None
    reported, derived = pair.reported_total, pair.derived_total
    at = pair.changed_at + grace
    identity = (
        f"{pair.account}|{pair.instrument}|{since.isoformat()}|{at.isoformat()}"
        f"|{reported}|{derived}|{resolved}"
    )
    return PositionDrift(
        envelope=Envelope(
            event_id=EventId("pd-" + hashlib.sha256(identity.encode()).hexdigest()[:24]),
            ts_event=at,
            ts_ingested=pair.ingested_at,
            source=Source.LIVE,
            producer=PRODUCER,
            causation_ids=(pair.cause,) if pair.cause else (),
        ),
        account=pair.account,
        instrument=pair.instrument,
        reported=reported,
        derived=derived,
        since=since,
        resolved=resolved,
    )


def pair_to_json(pair: Pair) -> dict[str, Any]:
    """``pair`` as JSON-safe values (the stage's changelog)."""
    return {
        "account": pair.account,
        "instrument": pair.instrument,
        "reported": pair.reported,
        "derived": {s: [q, n] for s, (q, n) in sorted(pair.derived.items())},
        "changed_at": _time(pair.changed_at),
        "ingested_at": _time(pair.ingested_at),
        "cause": pair.cause,
        "since": _time(pair.since),
        "open": None
        if pair.open is None
        else {
            "reported": pair.open.reported,
            "derived": pair.open.derived,
            "since": pair.open.since.isoformat(),
        },
    }


def pair_from_json(data: Mapping[str, Any]) -> Pair:
    opened = data.get("open")
    return Pair(
        account=data["account"],
        instrument=data["instrument"],
        reported=data.get("reported"),
        derived={s: (int(q), int(n)) for s, (q, n) in data.get("derived", {}).items()},
        changed_at=_parsed(data.get("changed_at")),
        ingested_at=_parsed(data.get("ingested_at")),
        cause=data.get("cause", ""),
        since=_parsed(data.get("since")),
        open=None
        if opened is None
        else Drift(
            int(opened["reported"]),
            int(opened["derived"]),
            datetime.fromisoformat(opened["since"]),
        ),
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
