"""Market context: which bars and signals an execution may see, and when the context is complete."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.context import MarketContext
from tests.fixtures.stubs import BASE_TIME, bar, signal

T = BASE_TIME
MINUTE = timedelta(minutes=1)


def test_extremes_take_the_bars_that_closed_in_the_span_and_were_known() -> None:
    context = MarketContext()
    context.observe("m", 0, bar(T + MINUTE, "105", "99"))
    context.observe("m", 0, bar(T + 2 * MINUTE, "110", "101"))
    context.observe("m", 0, bar(T + 3 * MINUTE, "120", "90"))
    found = context.extremes("NQ 12-26", T, T + 2 * MINUTE, known_by=T + 10 * MINUTE)
    assert found is not None and (found.high, found.low) == (Decimal(110), Decimal(99))
    # a bar closing exactly at the start is before the trade; one known later does not count
    known_by = T + 2 * MINUTE + timedelta(seconds=1)  # the third bar was recorded later
    found = context.extremes("NQ 12-26", T + MINUTE, T + 3 * MINUTE, known_by=known_by)
    assert found is not None and (found.high, found.low) == (Decimal(110), Decimal(101))
    assert context.extremes("NQ 12-26", T + 3 * MINUTE, T + 9 * MINUTE, T + 9 * MINUTE) is None
    assert context.extremes("ES 12-26", T, T + 9 * MINUTE, T + 9 * MINUTE) is None


def test_only_bars_of_the_excursion_period_are_kept() -> None:
    context = MarketContext("1 Minute")
    context.observe("m", 0, bar(T + MINUTE, "105", "99", period="5 Minute"))
    assert context.extremes("NQ 12-26", T, T + 9 * MINUTE, T + 9 * MINUTE) is None


def test_signals_are_seen_once_ingested_and_within_the_retention() -> None:
    context = MarketContext()
    s = signal("s1", "20990", at=T)
    context.observe("s", 0, s)
    ingested = s.envelope.ts_ingested
    assert context.signal("s1", known_by=ingested, since=T) == s
    assert context.signal("s1", known_by=ingested - timedelta(microseconds=1), since=T) is None
    assert context.signal("s1", known_by=ingested, since=T + timedelta(seconds=1)) is None
    assert context.signal("s2", known_by=ingested, since=T) is None


def test_complete_needs_every_watched_partition_past_the_time_or_read_to_its_end() -> None:
    context = MarketContext()
    context.watch("m", 0)
    context.watch("m", 1)
    later = T + 5 * MINUTE
    assert not context.complete(T)  # nothing read yet
    context.observe("m", 0, bar(T + MINUTE, "1", "1"))  # ingested after T
    assert context.behind(T) == [("m", 1)]
    context.read_all("m", 1, at=T)  # all it held at T was read
    assert context.complete(T)
    # read to its end before a time is not complete through it: a record may still arrive
    assert context.behind(later) == [("m", 0), ("m", 1)]
    context.read_all("m", 0, at=later)
    context.read_all("m", 1, at=later + MINUTE)
    assert context.complete(later)
    context.read_all("m", 1, at=T)  # an older check changes nothing
    assert context.complete(later)


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(1, 50), st.integers(0, 20)),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 100),
    st.integers(0, 100),
)
def test_pruning_never_changes_an_answer_after_the_floor(
    bars: list[tuple[int, int, int]], floor: int, start: int
) -> None:
    whole, pruned = MarketContext(), MarketContext()
    for minute, low, width in bars:
        b = bar(T + minute * MINUTE, str(low + width), str(low))
        whole.observe("m", 0, b)
        pruned.observe("m", 0, b)
    pruned.prune(T + floor * MINUTE)
    after = T + max(floor, start) * MINUTE
    end = T + 200 * MINUTE
    assert pruned.extremes("NQ 12-26", after, end, end) == whole.extremes(
        "NQ 12-26", after, end, end
    )
