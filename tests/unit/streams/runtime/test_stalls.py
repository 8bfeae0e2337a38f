"""Telling a stalled stage from an idle one (``streams.runtime.stalls``) and bounding calls
(``core.watchdog``): the decisions, without any service."""

from __future__ import annotations

import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from core.backoff import Backoff
from core.watchdog import Watchdog
from streams.runtime.stalls import judge, waiting_records

offsets = st.dictionaries(st.integers(0, 5), st.integers(0, 10_000), max_size=6)


def test_a_commit_marker_alone_is_not_waiting() -> None:
    # a transactional source at rest: the group committed past its last record, the marker
    # after it remains
    assert waiting_records({0: 101, 1: 51}, {0: 100, 1: 50}, {0: 101, 1: 51}) == 0


def test_one_record_after_the_last_progress_is_waiting() -> None:
    # a raw source (no markers): one new record since the stage last progressed
    assert waiting_records({0: 101}, {0: 100}, {0: 100}) == 1


def test_records_beyond_the_committed_offsets_are_waiting_whenever_they_came() -> None:
    assert waiting_records({0: 4100, 1: 10}, {0: 100, 1: 10}, {0: 4100, 1: 10}) == 4000


def test_a_group_that_never_committed_waits_for_everything() -> None:
    assert waiting_records({0: 30, 1: 20}, {}, {}) == 50


@given(offsets, offsets, offsets)
def test_waiting_is_never_negative_nor_more_than_the_records_beyond_commits(
    ends: dict[int, int], committed: dict[int, int], before: dict[int, int]
) -> None:
    waiting = waiting_records(ends, committed, before)
    assert 0 <= waiting <= sum(max(0, e - committed.get(p, 0)) for p, e in ends.items())


def test_a_stage_is_stalled_only_once_records_waited_the_whole_limit() -> None:
    assert not judge(now=100.0, progressed_at=80.0, waiting=5, limit=30.0).stalled
    stall = judge(now=100.0, progressed_at=70.0, waiting=5, limit=30.0)
    assert stall.stalled and stall.seconds == 30.0 and stall.waiting == 5
    idle = judge(now=100.0, progressed_at=0.0, waiting=0, limit=30.0)  # long idle, nothing waits
    assert not idle.stalled and idle.seconds == 0.0


def overruns() -> tuple[Watchdog, list[tuple[str, float]], threading.Event]:
    seen: list[tuple[str, float]] = []
    fired = threading.Event()

    def note(call: str, seconds: float) -> None:
        seen.append((call, seconds))
        fired.set()

    return Watchdog("test", on_overrun=note).start(), seen, fired


def test_a_call_that_overruns_its_bound_is_reported_with_its_name() -> None:
    watchdog, seen, fired = overruns()
    release = threading.Event()

    def blocked() -> None:
        with watchdog.bounded("send_offsets_to_transaction", 0.3):
            release.wait(10)

    thread = threading.Thread(target=blocked)
    thread.start()
    try:
        assert fired.wait(5)
        assert seen == [("send_offsets_to_transaction", 0.3)]
    finally:
        release.set()
        thread.join()


def test_calls_within_their_bounds_are_never_reported() -> None:
    watchdog, seen, _ = overruns()
    for _ in range(5):
        with watchdog.bounded("consume", 0.5):
            time.sleep(0.1)
    time.sleep(1.0)  # the watchdog checks twice a second: give it two looks at nothing late
    watchdog.close()
    assert seen == []


def test_an_inner_call_returning_restarts_the_enclosing_calls_clock() -> None:
    # a rebalance callback restoring state inside consume: each restore read is bounded, and
    # consume's own bound counts again from the moment the last of them returned
    watchdog, seen, _ = overruns()
    with watchdog.bounded("consume", 0.8):
        for _ in range(4):
            with watchdog.bounded("poll the changelog", 0.8):
                time.sleep(0.4)
    watchdog.close()
    assert seen == []


def test_time_the_process_was_not_running_is_not_held_against_a_call() -> None:
    now = [1000.0]
    seen: list[str] = []
    watchdog = Watchdog("test", on_overrun=lambda call, _: seen.append(call), clock=lambda: now[0])
    with watchdog.bounded("consume", 15.0):
        last = now[0]
        now[0] += 0.5
        last = watchdog.look(last)
        now[0] += 60.0  # SIGSTOP for a minute: the next check comes a minute late
        last = watchdog.look(last)
        now[0] += 0.5
        last = watchdog.look(last)
        assert seen == [] and last > 0
        for _ in range(40):  # running again: 20 s of checks on time do overrun its 15 s
            now[0] += 0.5
            last = watchdog.look(last)
            if last < 0:
                break
    assert seen == ["consume"]


def test_restarts_pause_longer_while_runs_keep_failing_and_start_over_after_a_good_run() -> None:
    backoff = Backoff(10.0)
    assert [backoff.after(ran=1.0) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.after(ran=61.0) == 1.0  # it ran a minute: a failure after that starts over
    assert backoff.after(ran=0.5) == 2.0
