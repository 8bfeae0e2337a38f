"""The parity summary a rebuild and ``fillstream verify`` print."""

from __future__ import annotations

from decimal import Decimal

from projections.parity import Difference, Parity


def parity(identical: int = 0, only_old: int = 0, only_new: int = 0, changed: int = 0) -> Parity:
    old = identical + only_old + changed
    new = identical + only_new + changed
    return Parity(old_table="trades_v1", new_table="trades_v2", old_rows=old, new_rows=new,
                  sums={"net_pnl": (Decimal("10.5"), Decimal("10.5"))}, identical=identical,
                  only_old=only_old, only_new=only_new, changed=changed)  # fmt: skip


def test_two_empty_tables_are_identical() -> None:
    empty = parity()
    assert empty.same and empty.accuracy == 1.0


def test_accuracy_is_identical_rows_over_the_rows_of_either() -> None:
    # 6 identical, 1 changed, 2 only in the old, 1 only in the new: 10 keys in all
    mixed = parity(identical=6, changed=1, only_old=2, only_new=1)
    assert not mixed.same and mixed.accuracy == 0.6


def test_the_summary_marks_differing_sums_and_names_the_first_differences() -> None:
    p = Parity(
        old_table="trades_v1", new_table="trades_v2", old_rows=2, new_rows=2, identical=1,
        only_old=0, only_new=0, changed=1,
        sums={"net_pnl": (Decimal(1), Decimal(2)), "fees": (None, None)},
        first=[Difference(("T-1",), "changed", ("net_pnl",))],
    )  # fmt: skip
    text = p.render().splitlines()
    assert text[0] == "trades_v1 → trades_v2: DIFFERENT, 50.0000% of rows identical"
    net = next(line for line in text if line.strip().startswith("sum(net_pnl)"))
    assert net.split() == ["sum(net_pnl)", "1", "2", "≠"]
    fees = next(line for line in text if line.strip().startswith("sum(fees)"))
    assert fees.split() == ["sum(fees)", "-", "-"]
    assert text[-1].split() == ["changed", "T-1", "(net_pnl)"]
