"""Sizing: whole contracts within the budget, the caps, zero risk refused, Wilder's ATR."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.gate.rules import Scope, Sizing, SizingMethod
from domain.gate.sizing import TradeStats, atr, size
from tests.unit.domain.gate.gatekit import NOW, bar

ENTRY = Decimal("21000")
POINT = Decimal(20)

money = st.decimals(min_value=1000, max_value=10_000_000, places=2)
distances = st.decimals(min_value=Decimal("0.25"), max_value=500, places=2)
fractions = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.2"), places=3)


@given(equity=money, distance=distances, fraction=fractions)
def test_fixed_fraction_is_the_most_whole_contracts_within_the_budget(
    equity: Decimal, distance: Decimal, fraction: Decimal
) -> None:
    sizing = Sizing(scope=Scope(), method=SizingMethod.FIXED_FRACTION, equity=equity,
                    risk_fraction=fraction)  # fmt: skip
    sized = size(sizing, proposed=1, entry=ENTRY, stop=ENTRY - distance, point_value=POINT,
                 equity=equity)  # fmt: skip
    risk = distance * POINT
    assert isinstance(sized.quantity, int) and sized.quantity >= 0
    assert sized.quantity * risk <= equity * fraction < (sized.quantity + 1) * risk
    assert sized.arithmetic.endswith(f"= {sized.quantity}")


@given(equity=money, distance=distances, cap=st.integers(min_value=1, max_value=5))
def test_max_contracts_caps_every_method(equity: Decimal, distance: Decimal, cap: int) -> None:
    sizing = Sizing(scope=Scope(), method=SizingMethod.FIXED_FRACTION, equity=equity,
                    risk_fraction=Decimal("0.2"), max_contracts=cap)  # fmt: skip
    sized = size(sizing, proposed=1, entry=ENTRY, stop=ENTRY + distance, point_value=POINT,
                 equity=equity)  # fmt: skip
    assert sized.quantity <= cap
    fixed = size(Sizing(scope=Scope(), contracts=9, max_contracts=cap), proposed=1, entry=ENTRY,
                 stop=None, point_value=POINT, equity=None)  # fmt: skip
    assert fixed.quantity == min(9, cap)


def test_zero_risk_is_refused_not_divided_by() -> None:
    for method in (SizingMethod.FIXED_FRACTION, SizingMethod.KELLY):
        sizing = Sizing(scope=Scope(), method=method, equity=Decimal(50000))
        for stop in (None, ENTRY):
            sized = size(sizing, proposed=2, entry=ENTRY, stop=stop, point_value=POINT,
                         equity=Decimal(50000))  # fmt: skip
            assert sized.quantity == 0 and "no risk to size by" in sized.arithmetic


def test_fixed_is_the_configured_contracts_or_the_strategys_own() -> None:
    assert size(Sizing(scope=Scope()), proposed=3, entry=ENTRY, stop=None, point_value=POINT,
                equity=None).quantity == 3  # fmt: skip
    assert size(Sizing(scope=Scope(), contracts=1), proposed=3, entry=ENTRY, stop=None,
                point_value=POINT, equity=None).quantity == 1  # fmt: skip


def bars_with_range(ranges: list[int]) -> list:  # type: ignore[type-arg]
    return [
        bar(
            NOW - timedelta(minutes=len(ranges) - i),
            high=str(21000 + r),
            low="21000",
            close="21000",
        )  # fmt: skip
        for i, r in enumerate(ranges)
    ]


def test_atr_is_wilders() -> None:
    bars = bars_with_range([4, 2, 4, 6, 8])  # true ranges after the first: 2, 4, 6, 8
    assert atr(bars, 5) is None
    # seed (2 + 4) / 2 = 3, then (3 + 6) / 2 = 4.5, then (4.5 + 8) / 2 = 6.25
    assert atr(bars, 2) == Decimal("6.25")


def test_volatility_sizes_by_the_atr() -> None:
    sizing = Sizing(scope=Scope(), method=SizingMethod.VOLATILITY, risk_budget=Decimal(1000),
                    atr_multiple=Decimal(2), atr_period=2)  # fmt: skip
    sized = size(sizing, proposed=1, entry=ENTRY, stop=None, point_value=POINT, equity=None,
                 bars=bars_with_range([4, 2, 4, 6, 8]))  # fmt: skip
    assert sized.quantity == 4  # 1000 / (2 x 6.25 x 20) = 4
    assert "ATR 6.25" in sized.arithmetic
    short = size(sizing, proposed=1, entry=ENTRY, stop=None, point_value=POINT, equity=None,
                 bars=bars_with_range([4, 2]))  # fmt: skip
    assert short.quantity == 0 and "no ATR(2) yet" in short.arithmetic


def kelly(stats: TradeStats | None, *, equity: str = "100000") -> int:
    sizing = Sizing(
        scope=Scope(),
        method=SizingMethod.KELLY,
        equity=Decimal(equity),
        kelly_fraction=Decimal("0.5"),
        max_fraction=Decimal("0.05"),
        min_trades=20,
    )
    return size(sizing, proposed=2, entry=ENTRY, stop=ENTRY - 10, point_value=POINT,
                equity=Decimal(equity), stats=stats).quantity  # fmt: skip


def test_kelly_from_the_strategys_statistics() -> None:
    # W 0.6, R 1.5: f* = 0.6 - 0.4 / 1.5 = 0.3333; half of it 0.1667, capped at 0.05:
    # 100000 x 0.05 / 200 = 25
    edge = TradeStats(trades=50, wins=30, average_win=Decimal(150), average_loss=Decimal(100))
    assert kelly(edge) == 25
    # W 0.5, R 1.2: f* = 0.5 - 0.5 / 1.2 = 0.0833; half 0.0417: 100000 x 0.0417 / 200 = 20.8
    small = TradeStats(trades=50, wins=25, average_win=Decimal(120), average_loss=Decimal(100))
    assert kelly(small) == 20
    none = TradeStats(trades=50, wins=20, average_win=Decimal(100), average_loss=Decimal(100))
    assert kelly(none) == 0
    few = TradeStats(trades=5, wins=5, average_win=Decimal(100), average_loss=Decimal(0))
    assert kelly(few) == 2 and kelly(None) == 2  # the strategy's own quantity


@given(
    wins=st.integers(min_value=0, max_value=100),
    losses=st.integers(min_value=1, max_value=100),
    win=st.decimals(min_value=1, max_value=1000, places=2),
    loss=st.decimals(min_value=1, max_value=1000, places=2),
)
def test_kelly_never_risks_more_than_the_cap(
    wins: int, losses: int, win: Decimal, loss: Decimal
) -> None:
    stats = TradeStats(trades=wins + losses, wins=wins, average_win=win, average_loss=loss)
    quantity = kelly(stats)
    if stats.trades >= 20:
        assert 0 <= quantity * 200 <= Decimal(100000) * Decimal("0.05")
