"""Why a trade closed, from the order names NinjaTrader and strategies give."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.exits import exit_reason
from schemas.events import ExitReason
from tests.fixtures.ntsamples import SIM101, TOPSTEP, data, exports

R = ExitReason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # NinjaTrader's own names (managed strategies, ATM brackets, the close buttons)
        ("Stop loss", R.STOP),
        ("Trail stop", R.TRAILING_STOP),
        ("Profit target", R.TARGET),
        ("Exit on session close", R.SESSION_CLOSE),
        ("Stop1", R.STOP),
        ("Target2", R.TARGET),
        ("Close", R.CLOSE),
        ("Close position", R.CLOSE),
        ("Flatten", R.CLOSE),
        ("StopCancelClose", R.CLOSE),
        ("External", R.EXTERNAL),
        # strategies' own names, as in the real exports
        ("MNQ_Stop_d45dd025-c106-4934-b663-6e3306709f71", R.STOP),
        ("MNQ_Target_0fcb8c46-d21e-42ee-a274-e5b1dce410da", R.TARGET),
        ("MNQ_ScaleIn_638828257711199125", R.SIGNAL),
        ("Exit long", R.SIGNAL),
        ("  stop   LOSS ", R.STOP),
        ("", R.UNKNOWN),
        (None, R.UNKNOWN),
    ],
)
def test_names_map_to_reasons(name: str | None, reason: ExitReason) -> None:
    assert exit_reason(name) is reason


def exit_names(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return {row["Exit name"] for row in csv.DictReader(f)}


def test_the_exit_names_of_a_real_trades_export_get_their_reasons() -> None:
    reasons = {name: exit_reason(name) for name in exit_names(data(TOPSTEP))}
    assert reasons[""] is R.UNKNOWN and reasons["Close"] is R.CLOSE
    assert reasons["Stop1"] is R.STOP and reasons["Target1"] is R.TARGET
    assert reasons["External"] is R.EXTERNAL


@pytest.mark.parametrize("path", exports(SIM101, TOPSTEP))
def test_every_named_exit_of_a_trades_export_has_a_reason(path: Path) -> None:
    named = {name: exit_reason(name) for name in exit_names(path) if name}
    assert named and R.UNKNOWN not in named.values()


@given(name=st.text(max_size=40), reversed_position=st.booleans())
def test_any_name_gets_one_reason_and_reversals_only_replace_unknown_or_signal(
    name: str, reversed_position: bool
) -> None:
    plain = exit_reason(name)
    reason = exit_reason(name, reversed_position=reversed_position)
    if reversed_position and plain in (R.UNKNOWN, R.SIGNAL):
        assert reason is R.REVERSAL
    else:
        assert reason is plain
