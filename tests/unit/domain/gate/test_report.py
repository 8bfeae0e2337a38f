"""The gate report's arithmetic: groups per rule, the mean's interval against scipy's bootstrap,
the difference of the means."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from domain.gate.report import Outcome, evaluate, group, mean_interval

nets = st.lists(st.integers(min_value=-1000, max_value=1000), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(values=nets)
def test_the_interval_holds_the_mean_within_the_samples_range(values: list[int]) -> None:
    low, high = mean_interval([float(v) for v in values], confidence=0.95)
    assert min(values) <= low <= np.mean(values) + 1e-9
    assert np.mean(values) - 1e-9 <= high <= max(values)
    assert (low, high) == mean_interval([float(v) for v in values], confidence=0.95)


def test_the_interval_is_scipys_percentile_bootstrap() -> None:
    sample = np.random.default_rng(5).normal(40, 200, size=400)
    low, high = mean_interval(sample.tolist(), confidence=0.95)
    reference = stats.bootstrap((sample,), np.mean, method="percentile", n_resamples=20_000,
                                random_state=1).confidence_interval  # fmt: skip
    # two Monte Carlo estimates of the same quantiles: alike within a tenth of the width
    width = reference.high - reference.low
    assert abs(low - reference.low) < 0.1 * width and abs(high - reference.high) < 0.1 * width


def outcome(rule: str, failed: bool, net: str | None, mode: str = "enforce") -> Outcome:
    return Outcome(rule=rule, kind="k", mode=mode, failed=failed,
                   net=None if net is None else Decimal(net))  # fmt: skip


def test_rules_in_order_with_their_failed_and_passed_signals() -> None:
    values = evaluate([
        outcome("a", True, "-100"), outcome("b", False, "50", "observe"), outcome("a", True, "-50"),
        outcome("a", False, "80"), outcome("a", False, "20"), outcome("a", False, None),
        outcome("b", True, "10", "observe"),
    ])  # fmt: skip
    assert [v.rule for v in values] == ["a", "b"]
    a = values[0]
    assert (a.failed.signals, a.failed.with_outcome, a.failed.mean) == (2, 2, -75.0)
    assert (a.passed.signals, a.passed.with_outcome, a.passed.mean) == (3, 2, 50.0)
    assert a.failed.total == Decimal(-150) and a.passed.win_rate == 1.0
    assert a.difference is not None and a.difference.difference == pytest.approx(-125.0)
    assert a.difference.ci_low <= -125.0 <= a.difference.ci_high
    b = values[1]
    assert b.mode == "observe" and b.difference is None  # one outcome a side
    assert b.failed.ci_low is None and b.failed.mean == 10.0


def test_a_group_without_outcomes_has_no_figures() -> None:
    empty = group([None, None])
    assert (empty.signals, empty.with_outcome, empty.mean, empty.total) == (2, 0, None, Decimal(0))
