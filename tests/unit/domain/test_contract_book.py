"""``ContractBook``: the newest definition of a root in the log, then the built-in table; an
unknown root names the command that defines it; a lookup sees only what was ingested by then."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contracts import ContractBook, defined_spec, spec_for
from domain.errors import UnknownInstrumentError
from schemas.events import EventId
from tests.fixtures import stubs

T0 = stubs.BASE_TIME


def test_without_definitions_the_built_in_table_answers() -> None:
    book = ContractBook()
    assert book.spec_for("NQ 12-26") == spec_for("NQ 12-26")
    assert book.newest("NQ") is None and book.history("NQ") == ()
    assert book.roots()[:3] == ["6B", "6E", "CL"]


def test_a_definition_adds_a_root_with_its_values_and_the_default_session_hours() -> None:
    book = ContractBook()
    book.define(stubs.instrument_defined())
    spec = book.spec_for("FGBL 03-27")
    assert (spec.root, spec.name, spec.exchange) == ("FGBL", "Euro-Bund", "Eurex")
    assert (spec.tick_size, spec.point_value, spec.currency) == (
        Decimal("0.01"), Decimal("1000"), "EUR",
    )  # fmt: skip
    assert spec.tick_value == Decimal("10")
    assert spec.session_time_zone == "America/Chicago"
    assert (spec.session_open, spec.session_close) == (time(17), time(16))
    assert "FGBL" in book.roots()


def test_the_newest_definition_wins() -> None:
    book = ContractBook()
    first = stubs.instrument_defined(point_value="1000")
    second = stubs.instrument_defined(point_value="500", currency="CHF")
    book.define(first)
    book.define(second)
    assert book.spec_for("FGBL").point_value == Decimal("500")
    assert book.spec_for("FGBL").currency == "CHF"
    assert book.newest("FGBL") == second
    assert book.history("FGBL") == (first, second)


def test_a_definition_of_a_built_in_root_replaces_its_values_and_keeps_its_hours() -> None:
    book = ContractBook()
    book.define(stubs.instrument_defined("NQ", "0.25", "21", "USD", exchange=None))
    spec = book.spec_for("NQ 12-26")
    assert spec.point_value == Decimal("21")
    assert spec.exchange == "CME"  # the definition names none: the built-in one's
    builtin = spec_for("NQ")
    assert (spec.session_time_zone, spec.session_open, spec.session_close) == (
        builtin.session_time_zone, builtin.session_open, builtin.session_close,
    )  # fmt: skip
    assert book.builtin("NQ") == builtin


def test_a_lookup_sees_only_the_definitions_ingested_by_then() -> None:
    book = ContractBook()
    early = stubs.instrument_defined(point_value="1000", ts_ingested=T0)
    late = stubs.instrument_defined(point_value="500", ts_ingested=T0 + timedelta(minutes=5))
    book.define(early)
    book.define(late)
    with pytest.raises(UnknownInstrumentError):
        book.spec_for("FGBL", T0 - timedelta(microseconds=1))
    assert book.spec_for("FGBL", T0).point_value == Decimal("1000")
    assert book.spec_for("FGBL", T0 + timedelta(minutes=4)).point_value == Decimal("1000")
    assert book.spec_for("FGBL", T0 + timedelta(minutes=5)).point_value == Decimal("500")
    assert book.spec_for("FGBL").point_value == Decimal("500")


def test_a_built_in_root_defined_later_answers_with_the_table_before_then() -> None:
    book = ContractBook()
    book.define(stubs.instrument_defined("ES", "0.25", "49", "USD", ts_ingested=T0))
    assert book.spec_for("ES 12-26", T0 - timedelta(seconds=1)).point_value == Decimal("50")
    assert book.spec_for("ES 12-26", T0).point_value == Decimal("49")


def test_an_unknown_root_names_the_command_that_defines_it() -> None:
    book = ContractBook()
    book.define(stubs.instrument_defined("FGBL"))
    with pytest.raises(UnknownInstrumentError) as caught:
        book.spec_for("FDAX 12-26")
    error = caught.value
    assert error.root == "FDAX" and "FGBL" in error.known_roots
    assert str(error) == (
        "instrument: no contract specification for root 'FDAX' (instrument 'FDAX 12-26'); "
        "define it with `fillstream instruments add FDAX --tick-size T --point-value V "
        "--currency C`"
    )


def test_a_definition_read_twice_counts_once() -> None:
    book = ContractBook()
    first = stubs.instrument_defined(point_value="1000")
    second = stubs.instrument_defined(point_value="500")
    for definition in (first, second, first):
        book.define(definition)
    assert book.spec_for("FGBL").point_value == Decimal("500")
    assert book.history("FGBL") == (first, second)


def test_unknown_roots_and_clear() -> None:
    book = ContractBook()
    book.define(stubs.instrument_defined("FGBL"))
    instruments = ["NQ 12-26", "FGBL 03-27", "FDAX 12-26", "fdax 03-27", "ZZ", "MNQ MAR27"]
    assert book.unknown_roots(instruments) == ["FDAX", "ZZ"]
    book.clear()
    assert book.unknown_roots(instruments) == ["FDAX", "FGBL", "ZZ"]
    assert book.history("FGBL") == ()


_definitions = st.lists(
    st.tuples(st.integers(0, 20), st.sampled_from(["1000", "500", "250", "25"])),
    max_size=8,
)


@given(log=_definitions, later=_definitions, known_by=st.integers(0, 20))
def test_an_answer_depends_only_on_what_was_ingested_by_then(
    log: list[tuple[int, str]], later: list[tuple[int, str]], known_by: int
) -> None:
    """Definitions ingested after ``known_by`` never change the answer (a replay that has read
    further gives the same spec), and the answer is the last definition ingested by then."""
    at = T0 + timedelta(seconds=known_by)

    def book_of(entries: list[tuple[int, str]]) -> ContractBook:
        book = ContractBook()
        for n, (second, value) in enumerate(entries):
            book.define(
                stubs.instrument_defined(
                    point_value=value,
                    event_id=EventId(f"def-{n}"),
                    ts_ingested=T0 + timedelta(seconds=second),
                )
            )
        return book

    def answer(book: ContractBook) -> Decimal | None:
        try:
            return book.spec_for("FGBL 03-27", at).point_value
        except UnknownInstrumentError:
            return None

    after = [(known_by + 1 + second % 5, value) for second, value in later]
    seen = [Decimal(value) for second, value in log if second <= known_by]
    assert answer(book_of(log)) == (seen[-1] if seen else None)
    assert answer(book_of(log + after)) == answer(book_of(log))


def test_a_decoded_definition_loses_the_trailing_zeros_of_its_scale() -> None:
    spec = defined_spec(stubs.instrument_defined(tick_size="0.0100000000", point_value="1E+3"))
    assert (str(spec.tick_size), str(spec.point_value)) == ("0.01", "1000")
