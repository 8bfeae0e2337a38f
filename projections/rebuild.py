"""Versioned rebuilds (blue/green), switches and verification of projections.

``rebuild`` builds a projection's next version from the log (its own table and consumer group)
while the live version keeps serving the view, then hands over to ``switch``:

1. the candidate catches up to the end of its topics;
2. the live version is brought at least as far (by the running ``fillstream project``, or by
   this process when none runs);
3. the gate: with the live table locked against writes (``SHARE``; readers go on), the
   candidate projects exactly up to the live version's stored offsets, the two are compared
   (``projections.parity``) and, when identical or when the operator accepts the difference,
   the view is pointed at the candidate in the same transaction;
4. the old version is kept (``--keep-old``: switching back is a catch-up of what arrived since)
   or dropped once the running projector has let go of it.

``fillstream project`` follows the switch by itself: each projector asks every few seconds
whether its version still serves the view, and the next one starts from the new version's
stored offsets. A rebuild that is interrupted resumes where it stopped when run again.

Time travel: ``until`` builds a version only from the records logged up to a moment (by their
log timestamp: what the system knew then) and serves it beside the live one, as the view
``<name>_as_of_v<N>``; it never switches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from confluent_kafka import KafkaException, TopicPartition
from psycopg import sql

from core.database import connect
from core.kafka import probe_consumer, quiet_admin, watermarks
from core.progress import ProgressLine, to_stderr
from core.settings import Settings, available_cores
from projections import parallel, versions
from projections.errors import RebuildError, WriterBusyError
from projections.parity import Parity, compare
from projections.projection import Projection
from projections.projector import Projector
from schemas.codec import Codec, default_codec

log = logging.getLogger("fillstream.rebuild")

BATCH_SIZE = 5000
"""Records per transaction while rebuilding: larger than the live projector's, for throughput."""

LIVE_WAIT_SECONDS = 120.0
"""How long a switch waits for the running projector to bring the live version as far as the
candidate."""

RELEASE_WAIT_SECONDS = 30.0
"""How long a switch waits for the running projector to let go of the old version before
dropping it (it notices within seconds); after that the old version is kept."""

_TIMEOUT = 10.0

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    projection: str
    version: int
    state: str
    """What the version is now: ``live`` (switched), ``built`` (differences not accepted),
    ``as_of`` (time travel) or ``scratch`` (verification)."""
    parity: Parity | None
    records: int
    """Records of the log the version's projector read."""
    seconds: float
    """From the start to the switch (or to the end when nothing switched)."""
    build_seconds: float = 0.0
    """Of which building from the log up to its end."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "version": self.version,
            "state": self.state,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "build_seconds": round(self.build_seconds, 3),
            "parity": None if self.parity is None else self.parity.to_dict(),
        }


def rebuild(
    settings: Settings,
    projection: Projection,
    *,
    keep_old: bool = False,
    accept_diff: bool = False,
    until: datetime | None = None,
    since: datetime | None = None,
    say: Say = to_stderr,
    codec: Codec | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Build the next version of ``projection`` from the log and switch its view to it (see the
    module's docstring); with ``until``, build it as known at that moment and do not switch.
    ``since`` starts from the records logged from that moment instead of the beginning."""
    started = time.monotonic()
    codec = codec or default_codec()
    name = projection.name
    with _registry(settings) as conn:
        live = versions.live(conn, name)
        building = [v for v in versions.versions(conn, name) if v.state == "building"]
        if building:
            version = building[-1]
            if version.until != until:
                raise RebuildError(
                    f"{version.table} is an unfinished rebuild"
                    + (f" as of {version.until.isoformat()}" if version.until else "")
                    + "; run the same rebuild again to resume it, or drop it:"
                    f" fillstream projections drop {name} {version.version}"
                )
            say(f"{name}: resuming the rebuild of {version.table}")
        else:
            version = versions.create(
                conn, projection, live.table, state="building", until=until, indexes=False
            )
            if since is not None:
                start = log_at(settings, projection.topics, since)
                _start_at(conn, projection.at(version.version), start)
            say(
                f"{name}: building {version.table} from the log"
                + (f" as known at {until.isoformat()}" if until else "")
                + f" while {live.table} serves the view"
            )
        topics = projection.topics
        target = log_at(settings, topics, until) if until else log_end(settings, topics)
        records = _catch_up(
            settings, conn, projection.at(version.version), target, codec, stop, version.table
        )
        versions.add_indexes(conn, live.table, version.table)
        built = time.monotonic() - started
        if until is not None:
            with conn.transaction():
                versions.point_view(conn, name, live.table, version.table, name=version.as_of_view)
                versions.set_state(conn, name, version.version, "as_of")
            say(f"{name}: {version.table} holds {name} as known at {until.isoformat()};"
                f" query it as {version.as_of_view}")  # fmt: skip
            return Outcome(projection=name, version=version.version, state="as_of", parity=None,
                           records=records, seconds=time.monotonic() - started,
                           build_seconds=built)  # fmt: skip
        versions.set_state(conn, name, version.version, "built")
    before_switch = time.monotonic() - started
    outcome = switch(
        settings,
        projection,
        version.version,
        keep_old=keep_old,
        accept_diff=accept_diff,
        say=say,
        codec=codec,
        stop=stop,
    )
    return Outcome(
        projection=name,
        version=version.version,
        state=outcome.state,
        parity=outcome.parity,
        records=records + outcome.records,
        seconds=before_switch + outcome.seconds,
        build_seconds=built,
    )


def switch(
    settings: Settings,
    projection: Projection,
    number: int,
    *,
    keep_old: bool = False,
    accept_diff: bool = False,
    say: Say = to_stderr,
    codec: Codec | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Point ``projection``'s view at its version ``number`` (built or kept), behind the parity
    gate; the old live version is then kept or dropped."""
    started = time.monotonic()
    codec = codec or default_codec()
    name = projection.name
    with _registry(settings) as conn:
        live = versions.live(conn, name)
        candidate = versions.get(conn, name, number)
        if candidate.version == live.version:
            say(f"{name}: {candidate.table} already serves the view")
            return Outcome(projection=name, version=number, state="live", parity=None,
                           records=0, seconds=0.0)  # fmt: skip
        if candidate.state not in ("built", "kept"):
            raise RebuildError(
                f"{candidate.table} is {candidate.state}; only a built or kept version can"
                f" serve {name}"
            )
        new, old = projection.at(number), projection.at(live.version)
        end = log_end(settings, projection.topics)
        records = _catch_up(settings, conn, new, end, codec, stop, f"{new.table} catching up")
        records += _wait_for_live(settings, conn, old, new, codec, say, stop)
        parity, switched = _gate(settings, conn, old, new, codec, accept_diff)
        say(parity.render())
        if not switched:
            say(
                f"{name}: not switched, {candidate.table} differs from {live.table}. Look at"
                f" both, then: fillstream projections switch {name} {number} --accept-diff"
                f" (or drop it: fillstream projections drop {name} {number})"
            )
            return Outcome(projection=name, version=number, state=candidate.state,
                           parity=parity, records=records,
                           seconds=time.monotonic() - started)  # fmt: skip
        seconds = time.monotonic() - started
        say(f"{name}: the view now reads {candidate.table}")
        if keep_old:
            say(f"{name}: {live.table} kept; switch back with:"
                f" fillstream projections switch {name} {live.version}")  # fmt: skip
        else:
            old_version = versions.get(conn, name, live.version)
            _drop_when_released(settings, conn, projection, old_version, say)
    return Outcome(projection=name, version=number, state="live", parity=parity,
                   records=records, seconds=seconds)  # fmt: skip


def verify(
    settings: Settings,
    projection: Projection,
    *,
    keep: bool = False,
    say: Say = to_stderr,
    codec: Codec | None = None,
    stop: threading.Event | None = None,
) -> Outcome:
    """Rebuild ``projection`` into a scratch version, up to exactly where the live version is,
    and compare the two; the scratch version is dropped unless ``keep``."""
    started = time.monotonic()
    codec = codec or default_codec()
    name = projection.name
    with _registry(settings) as conn:
        live = versions.live(conn, name)
        scratch = versions.create(conn, projection, live.table, state="scratch", indexes=False)
        say(f"{name}: rebuilding into {scratch.table} to compare with {live.table}")
        try:
            new, old = projection.at(scratch.version), projection.at(live.version)
            end = log_end(settings, projection.topics)
            records = _catch_up(settings, conn, new, end, codec, stop, scratch.table)
            records += _wait_for_live(settings, conn, old, new, codec, say, stop)
            parity, _ = _gate(settings, conn, old, new, codec, accept=False, switch=False)
        finally:
            if not keep:
                _drop_when_released(settings, conn, projection, scratch, say, quiet=True)
    return Outcome(projection=name, version=scratch.version, state="scratch", parity=parity,
                   records=records, seconds=time.monotonic() - started)  # fmt: skip


def drop(settings: Settings, projection: Projection, number: int, *, say: Say = to_stderr) -> None:
    """Drop version ``number`` of ``projection`` (never the live one)."""
    with _registry(settings) as conn:
        version = versions.get(conn, projection.name, number)
        if version.state == "live":
            raise RebuildError(
                f"{version.table} serves {projection.name}; switch to another version first"
            )
        if not versions.try_writer_lock(conn, settings, version.table):
            raise RebuildError(f"a process is writing {version.table}; stop it first")
        try:
            versions.drop(conn, version)
        finally:
            versions.release_writer_lock(conn, settings, version.table)
        _forget_group(settings, projection.at(number))
        say(f"{projection.name}: dropped {version.table}")


def log_end(settings: Settings, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """The end offset of every partition of ``topics`` (catalog names), by full name."""
    consumer = probe_consumer(settings.bootstrap_servers, settings.group("rebuild-probe"),
                              **{"isolation.level": "read_committed"})  # fmt: skip
    try:
        ends = {}
        for tp in _partitions(consumer, settings, topics):
            _, high = watermarks(consumer, tp, _TIMEOUT)
            ends[(tp.topic, tp.partition)] = high
        return ends
    except KafkaException as e:
        raise RebuildError(f"the broker did not say where the log ends: {e}") from e
    finally:
        consumer.close()


def log_at(
    settings: Settings, topics: Sequence[str], moment: datetime
) -> dict[tuple[str, int], int]:
    """Per partition of ``topics`` (catalog names), the offset of its first record logged after
    ``moment`` (its end when there is none): the records before it are those known then."""
    after = int(moment.timestamp() * 1000) + 1  # log timestamps are milliseconds
    consumer = probe_consumer(settings.bootstrap_servers, settings.group("rebuild-probe"),
                              **{"isolation.level": "read_committed"})  # fmt: skip
    try:
        asked = [TopicPartition(tp.topic, tp.partition, after)
                 for tp in _partitions(consumer, settings, topics)]  # fmt: skip
        found = consumer.offsets_for_times(asked, timeout=_TIMEOUT)
        offsets = {}
        for tp in found:
            if tp.offset < 0:
                _, tp.offset = watermarks(consumer, tp, _TIMEOUT)
            offsets[(tp.topic, tp.partition)] = tp.offset
        return offsets
    except KafkaException as e:
        raise RebuildError(f"the broker did not find the offsets at {moment}: {e}") from e
    finally:
        consumer.close()


def _partitions(consumer: Any, settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    found = []
    for name in topics:
        topic = settings.topic(name)
        metadata = consumer.list_topics(topic, timeout=_TIMEOUT).topics[topic]
        if metadata.error is not None:
            raise RebuildError(f"topic {topic}: {metadata.error}; run `fillstream topics`")
        found += [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
    return found


@contextmanager
def _registry(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(settings)
    conn.autocommit = True
    try:
        yield conn
    except psycopg.Error as e:
        raise RebuildError(f"PostgreSQL: {str(e).strip().splitlines()[0]}") from e
    finally:
        conn.close()


def _start_at(
    conn: psycopg.Connection[Any], projection: Projection, offsets: Mapping[tuple[str, int], int]
) -> None:
    conn.cursor().executemany(
        "INSERT INTO projection_offsets (projection, version, topic, partition, next_offset)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        [(projection.name, projection.version, t, p, o) for (t, p), o in offsets.items()],
    )


def _catch_up(
    settings: Settings,
    conn: psycopg.Connection[Any],
    projection: Projection,
    target: Mapping[tuple[str, int], int],
    codec: Codec,
    stop: threading.Event | None,
    label: str | None,
) -> int:
    """Project ``projection`` up to ``target``; the records read. Shows progress under
    ``label`` (none when None). ``conn``: the registry's, to read where it stands."""
    counted = [0]

    def count(done: int, total: int) -> None:
        counted[0] = done
        if shown is not None:
            shown(done, total)

    shown = ProgressLine(label, "records") if label is not None else None
    stored = versions.stored_offsets(conn, projection.name, projection.version)
    behind = sum(max(0, t - stored.get(tp, 0)) for tp, t in target.items())
    groups = parallel.plan(target, stored, available_cores())
    try:
        if behind >= parallel.PARALLEL_FROM and len(groups) > 1:
            parallel.catch_up(settings, projection, groups, batch_size=BATCH_SIZE,
                              progress=count, stop=stop)  # fmt: skip
        else:
            Projector(settings, projection, codec, batch_size=BATCH_SIZE).catch_up(
                target, progress=count, stop=stop
            )
    finally:
        if shown is not None:
            shown.close()
    if stop is not None and stop.is_set():
        raise RebuildError(f"interrupted; run it again to resume {projection.table}")
    return counted[0]


def _wait_for_live(
    settings: Settings,
    conn: psycopg.Connection[Any],
    old: Projection,
    new: Projection,
    codec: Codec,
    say: Say,
    stop: threading.Event | None,
) -> int:
    """Bring the live version ``old`` at least as far as ``new`` in every partition: by this
    process when no projector runs it, else by waiting for the one that does. The records this
    process projected."""
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    told = False
    records = 0
    while True:
        ahead = versions.stored_offsets(conn, new.name, new.version)
        where = versions.stored_offsets(conn, old.name, old.version)
        behind = {tp: o for tp, o in ahead.items() if where.get(tp, 0) < o}
        if not behind:
            return records
        try:
            records += _catch_up(settings, conn, old, behind, codec, stop, None)
            continue
        except WriterBusyError:
            pass
        if not told:
            say(f"{old.name}: waiting for the running projector to bring {old.table} as far")
            told = True
        if time.monotonic() > deadline:
            raise RebuildError(
                f"{old.table} did not get as far as {new.table} in {LIVE_WAIT_SECONDS:.0f} s;"
                " is `fillstream project` healthy? (fillstream status)"
            )
        if stop is None:
            time.sleep(0.5)
        elif stop.wait(0.5):
            raise RebuildError("interrupted; nothing was switched")


def _gate(
    settings: Settings,
    conn: psycopg.Connection[Any],
    old: Projection,
    new: Projection,
    codec: Codec,
    accept: bool,
    *,
    switch: bool = True,
) -> tuple[Parity, bool]:
    """Hold writes to ``old``, bring ``new`` exactly to ``old``'s offsets, compare, and (when
    ``switch``) point the view at ``new`` if they are identical or ``accept``."""
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '30s'")
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(old.table)))
        held = versions.stored_offsets(conn, old.name, old.version)
        Projector(settings, new, codec, batch_size=BATCH_SIZE).catch_up(held)
        parity = compare(conn, new, old.table, new.table)
        if not switch or not (parity.same or accept):
            return parity, False
        versions.point_view(conn, old.name, old.table, new.table)
        versions.set_state(conn, old.name, old.version, "kept")
        versions.set_state(conn, new.name, new.version, "live", switched=True)
    return parity, True


def _drop_when_released(
    settings: Settings,
    conn: psycopg.Connection[Any],
    projection: Projection,
    version: versions.Version,
    say: Say,
    *,
    quiet: bool = False,
) -> None:
    """Drop ``version`` once no projector writes it (the running one lets go of a version
    that no longer serves the view within seconds); keep it when none lets go in time."""
    deadline = time.monotonic() + RELEASE_WAIT_SECONDS
    while not versions.try_writer_lock(conn, settings, version.table):
        if time.monotonic() > deadline:
            say(f"{version.projection}: {version.table} is kept, its projector still holds it;"
                f" drop it later: fillstream projections drop {version.projection}"
                f" {version.version}")  # fmt: skip
            return
        time.sleep(0.25)
    try:
        versions.drop(conn, versions.get(conn, version.projection, version.version))
    finally:
        versions.release_writer_lock(conn, settings, version.table)
    _forget_group(settings, projection.at(version.version))
    if not quiet:
        say(f"{version.projection}: dropped {version.table}")


def _forget_group(settings: Settings, projection: Projection) -> None:
    """Delete the Kafka consumer group of a dropped version (its offsets were informational);
    a group that never committed is not there, which is fine."""
    admin = quiet_admin(settings.bootstrap_servers)
    group = settings.group(projection.group)
    try:
        admin.delete_consumer_groups([group], request_timeout=_TIMEOUT)[group].result()
    except KafkaException as e:
        log.debug("consumer group %s not deleted: %s", group, e)


def by_name(names: Sequence[str]) -> list[Projection]:
    """The projections named, or a clear error."""
    from projections import PROJECTIONS

    known = {p.name: p for p in PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RebuildError(
            f"no projection named {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
        )
    return [known[n] for n in names]
