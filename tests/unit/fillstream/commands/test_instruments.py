"""``fillstream instruments add`` checks its options before it reaches Kafka: a mistake is one
line naming the option, exit status 2, nothing published."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillstream import cli
from fillstream.commands import instruments
from schemas.events import Source

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
GOOD = ["FGBL", "--tick-size", "0.01", "--point-value", "1000", "--currency", "EUR"]


def test_the_definition_names_its_source_and_producer() -> None:
    args = instruments.parser().parse_args(["add", *GOOD, "--exchange", "Eurex"])
    definition = instruments.definition_from(args, NOW)
    assert definition.root == "FGBL" and definition.name == "FGBL"  # no --name: the root
    assert (definition.tick_size, definition.point_value) == (Decimal("0.01"), Decimal(1000))
    assert (definition.currency, definition.exchange) == ("EUR", "Eurex")
    assert definition.envelope.source is Source.IMPORT
    assert definition.envelope.producer == "fillstream instruments add"
    assert definition.envelope.ts_event == definition.envelope.ts_ingested == NOW
    again = instruments.definition_from(args, NOW)
    assert again.envelope.event_id != definition.envelope.event_id  # each add is its own event


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({0: "fgbl"}, "ROOT must be upper-case without spaces"),
        ({0: "FG BL"}, "ROOT must be upper-case without spaces"),
        ({2: "0"}, "--tick-size must be a positive decimal"),
        ({2: "-0.01"}, "--tick-size must be a positive decimal"),
        ({2: "abc"}, "--tick-size must be a positive decimal"),
        ({2: "NaN"}, "--tick-size must be a positive decimal"),
        ({4: "Infinity"}, "--point-value must be a positive decimal"),
        ({4: "0.00000000001"}, "--point-value takes at most 10 decimal places"),
        ({6: "eur"}, "--currency must be an ISO 4217 code"),
        ({6: "EURO"}, "--currency must be an ISO 4217 code"),
        ({6: "€UR"}, "--currency must be an ISO 4217 code"),
    ],
)
def test_a_mistake_is_one_line_naming_the_option(
    change: dict[int, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [change.get(n, arg) for n, arg in enumerate(GOOD)]
    assert cli.main(["instruments", "add", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"fillstream instruments add: {named}")
    assert err.count("\n") == 1 and repr(change[next(iter(change))]) in err


@given(
    value=st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=10
    )
)
def test_a_decimal_option_takes_every_positive_value_of_ten_places_and_nothing_else(
    value: Decimal,
) -> None:
    args = instruments.parser().parse_args(
        ["add", "FGBL", f"--tick-size={value}", "--point-value", "1", "--currency", "EUR"]
    )
    if value > 0:
        assert instruments.definition_from(args, NOW).tick_size == value
    else:
        with pytest.raises(ValueError, match=r"^--tick-size must be a positive decimal"):
            instruments.definition_from(args, NOW)


@given(text=st.text(max_size=6))
def test_a_currency_is_three_upper_case_ascii_letters(text: str) -> None:
    args = instruments.parser().parse_args(
        ["add", "FGBL", "--tick-size", "1", "--point-value", "1", f"--currency={text}"]
    )
    if len(text) == 3 and text.isascii() and text.isalpha() and text.isupper():
        assert instruments.definition_from(args, NOW).currency == text
    else:
        with pytest.raises(ValueError, match=r"^--currency must be an ISO 4217 code"):
            instruments.definition_from(args, NOW)
