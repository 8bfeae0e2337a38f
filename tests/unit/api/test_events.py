"""The live feed's numbering and resume, without a database: a client resumes after any event
the feed still holds, in order; an id it no longer holds (evicted, or of an earlier process)
cannot resume and asks for a resync."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given
from hypothesis import strategies as st

from api.events import Feed


@given(published=st.integers(0, 60), capacity=st.integers(1, 20), seen=st.integers(0, 80))
def test_a_client_resumes_after_what_it_saw_while_the_feed_holds_it(
    published: int, capacity: int, seen: int
) -> None:
    feed = Feed(capacity)
    for n in range(published):
        feed.publish("trade", {"n": n})
    resumed = feed.after(f"{feed.epoch}-{seen}")
    oldest = max(1, published - capacity + 1)
    if seen > published or (published and seen < oldest - 1):
        assert resumed is None  # never a silent gap: the client reads everything again
    else:
        assert resumed is not None
        assert [e.number for e in resumed] == list(range(seen + 1, published + 1))
        assert [e.data["n"] for e in resumed] == list(range(seen, published))


def test_an_id_of_another_process_or_not_an_id_asks_for_a_resync() -> None:
    feed = Feed()
    feed.publish("trade", {})
    assert feed.after(None) == [] and feed.after("") == []  # a new client: from now on
    for other in ("1-1", f"{feed.epoch}-x", "nonsense", f"{feed.epoch}-2"):
        assert feed.after(other) is None, other


def test_a_waiting_stream_wakes_at_the_next_event_or_its_timeout() -> None:
    async def scenario() -> tuple[list[int], float]:
        feed = Feed()
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = asyncio.create_task(feed.wait(0, timeout=5))
        await asyncio.sleep(0)
        feed.publish("alert", {"state": "raised"})
        await waiting
        woke = loop.time() - started
        await feed.wait(1, timeout=0.05)  # nothing new: back after the timeout
        return [e.number for e in feed.since(0)], woke

    # on a thread of its own: an earlier test of the session may leave a loop running on this one
    with ThreadPoolExecutor(1) as pool:
        numbers, woke = pool.submit(asyncio.run, scenario()).result(timeout=30)
    assert numbers == [1] and woke < 1
