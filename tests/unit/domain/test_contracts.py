from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from core.errors import InvalidEventError
from domain.contracts import CONTRACTS, CONTRACTS_VERSION, ContractSpec, root_of, spec_for
from domain.errors import UnknownInstrumentError
from domain.performance import figures as performance

# root: (tick size, point value, tick value), as published by CME Group
EXPECTED = {
    "ES": ("0.25", "50", "12.50"),
    "MES": ("0.25", "5", "1.25"),
    "NQ": ("0.25", "20", "5.00"),
    "MNQ": ("0.25", "2", "0.50"),
    "YM": ("1", "5", "5"),
    "MYM": ("1", "0.5", "0.5"),
    "RTY": ("0.1", "50", "5"),
    "M2K": ("0.1", "5", "0.5"),
    "CL": ("0.01", "1000", "10"),
    "MCL": ("0.01", "100", "1"),
    "GC": ("0.1", "100", "10"),
    "MGC": ("0.1", "10", "1"),
    "SI": ("0.005", "5000", "25"),
    "ZB": ("0.03125", "1000", "31.25"),
    "ZN": ("0.015625", "1000", "15.625"),
    "6E": ("0.00005", "125000", "6.25"),
}


def test_version() -> None:
    assert CONTRACTS_VERSION == 2


@pytest.mark.parametrize("root", sorted(EXPECTED))
def test_tick_size_point_value_and_tick_value(root: str) -> None:
    tick_size, point_value, tick_value = EXPECTED[root]
    spec = spec_for(root)
    assert spec.root == root
    assert spec.tick_size == Decimal(tick_size)
    assert spec.point_value == Decimal(point_value)
    assert spec.tick_value == Decimal(tick_value)
    assert spec.currency == "USD"
    assert spec.session_time_zone == "America/Chicago"
    assert (spec.session_open, spec.session_close) == (time(17), time(16))  # Globex hours


def test_trading_days_follow_the_sessions_of_every_contract() -> None:
    # the performance figures date a trade by the session it closed in, with one rollover for all
    for spec in CONTRACTS:
        assert spec.session_time_zone == str(performance.SESSION_ZONE), spec.root
        assert spec.session_open == performance.SESSION_ROLLOVER, spec.root


def test_roots_are_unique_and_values_positive() -> None:
    roots = [spec.root for spec in CONTRACTS]
    assert len(roots) == len(set(roots))
    for spec in CONTRACTS:
        assert isinstance(spec, ContractSpec)
        assert spec.tick_size > 0 and spec.point_value > 0, spec.root
        assert spec.root == spec.root.upper() and spec.name and spec.exchange


@pytest.mark.parametrize(
    ("instrument", "root"),
    [
        ("NQ 12-26", "NQ"),
        ("MNQ MAR25", "MNQ"),
        ("ES 03-27", "ES"),
        ("NQ JUN26", "NQ"),
        ("ES", "ES"),
        ("mes 09-26", "MES"),
        ("  ZB 06-26 ", "ZB"),
        ("6E 03-26", "6E"),
        ("NQ ##-##", "NQ"),
    ],
)
def test_spec_for_ninjatrader_names(instrument: str, root: str) -> None:
    assert root_of(instrument) == root
    assert spec_for(instrument).root == root


@pytest.mark.parametrize("instrument", ["XX 12-26", "", "EURUSD", "NQZ6"])
def test_unknown_root_names_the_instrument_and_the_command_that_defines_it(
    instrument: str,
) -> None:
    with pytest.raises(UnknownInstrumentError) as caught:
        spec_for(instrument)
    error = caught.value
    assert isinstance(error, InvalidEventError)
    assert error.field == "instrument"
    assert error.instrument == instrument
    assert error.known_roots[:3] == ("ES", "MES", "NQ")
    assert repr(instrument) in str(error)
    assert "fillstream instruments add " in str(error)
    assert "\n" not in str(error)


def test_unknown_root_message() -> None:
    with pytest.raises(
        UnknownInstrumentError,
        match=r"^instrument: no contract specification for root 'XX' \(instrument 'XX 12-26'\); "
        r"define it with `fillstream instruments add XX --tick-size T --point-value V "
        r"--currency C`$",
    ):
        spec_for("XX 12-26")


def test_spec_is_frozen() -> None:
    spec = spec_for("NQ")
    with pytest.raises(AttributeError):
        spec.point_value = Decimal("1")  # type: ignore[misc]
