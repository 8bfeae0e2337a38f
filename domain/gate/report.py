"""Does the gate improve trade quality? Per rule, what the signals it failed made beside what the
signals it passed made.

A signal's outcome is the net P&L of its trades: live ones when it was allowed, the paper trades
the shadow stages made of it when it was denied (what it would have made). Per rule, the signals
it *failed* (denied by it when enforced; only recorded when observed, so those were traded live)
are set beside those it *passed*: how many, how many have an outcome yet, the mean outcome with
a percentile-bootstrap interval, the win rate, the total, and the difference of the means
(failed − passed) with its interval. A rule earns its place when the difference is negative and
its interval stays below zero. ``overall`` sets every denied signal beside every allowed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from domain.experiments.bootstrap import (
    CELLS_PER_BLOCK,
    BootstrapInterval,
    bootstrap_difference,
    mean,
)

SEED = 23
RESAMPLES = 2000
OVERALL = "(the gate)"
"""The name of the row that sets every denied signal beside every allowed one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One decided signal under one rule: did the rule fail it, and what did it make."""

    rule: str
    kind: str
    mode: str
    failed: bool
    net: Decimal | None
    """None until the signal has a closed trade (live or paper)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    signals: int
    with_outcome: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    win_rate: float | None
    total: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleValue:
    rule: str
    kind: str
    mode: str
    failed: Group
    passed: Group
    difference: BootstrapInterval | None
    """mean(failed) − mean(passed), with its interval; None without two outcomes on each side."""


def outcomes(
    decided: Iterable[tuple[str, Decimal | None]],
    verdicts: Iterable[tuple[str, str, str, str, Decimal | None]],
) -> list[Outcome]:
    """The outcomes ``evaluate`` takes, from the rows of ``gate_outcomes`` (decision, net) and of
    ``gate_rule_outcomes`` (rule, kind, mode, verdict, net): every denied signal beside every
    allowed one first (``OVERALL``), then each rule's."""
    return [
        *(Outcome(rule=OVERALL, kind="decision", mode="enforce", failed=decision == "deny",
                  net=net) for decision, net in decided),
        *(Outcome(rule=rule, kind=kind, mode=mode, failed=verdict == "fail", net=net)
          for rule, kind, mode, verdict, net in verdicts),
    ]  # fmt: skip


def evaluate(outcomes: Sequence[Outcome], *, confidence: float = 0.95) -> list[RuleValue]:
    """Per rule, in the order rules first appear."""
    order: dict[str, tuple[str, str]] = {}
    for o in outcomes:
        order.setdefault(o.rule, (o.kind, o.mode))
    values = []
    for rule, (kind, mode) in order.items():
        failed = [o.net for o in outcomes if o.rule == rule and o.failed]
        passed = [o.net for o in outcomes if o.rule == rule and not o.failed]
        values.append(
            RuleValue(
                rule=rule,
                kind=kind,
                mode=mode,
                failed=group(failed, confidence=confidence),
                passed=group(passed, confidence=confidence),
                difference=difference(failed, passed, confidence=confidence),
            )
        )
    return values


def value_json(value: RuleValue) -> dict[str, Any]:
    """A rule's value as ``fillstream gate report --json`` and the read API give it."""

    def side(group: Group) -> dict[str, Any]:
        return {"signals": group.signals, "with_outcome": group.with_outcome, "mean": group.mean,
                "ci_low": group.ci_low, "ci_high": group.ci_high, "win_rate": group.win_rate,
                "total": str(group.total)}  # fmt: skip

    d = value.difference
    return {"rule": value.rule, "kind": value.kind, "mode": value.mode,
            "failed": side(value.failed), "passed": side(value.passed),
            "difference": None if d is None else {"mean": d.difference, "ci_low": d.ci_low,
                                                  "ci_high": d.ci_high}}  # fmt: skip


def group(nets: Sequence[Decimal | None], *, confidence: float = 0.95) -> Group:
    known = [n for n in nets if n is not None]
    if not known:
        return Group(signals=len(nets), with_outcome=0, mean=None, ci_low=None, ci_high=None,
                     win_rate=None, total=Decimal(0))  # fmt: skip
    low = high = None
    if len(known) >= 2:
        low, high = mean_interval([float(n) for n in known], confidence=confidence)
    return Group(
        signals=len(nets),
        with_outcome=len(known),
        mean=float(np.mean([float(n) for n in known])),
        ci_low=low,
        ci_high=high,
        win_rate=sum(1 for n in known if n > 0) / len(known),
        total=sum(known, Decimal(0)),
    )


def difference(
    failed: Sequence[Decimal | None], passed: Sequence[Decimal | None], *, confidence: float
) -> BootstrapInterval | None:
    xs = [n for n in passed if n is not None]
    ys = [n for n in failed if n is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    return bootstrap_difference(xs, ys, mean, seed=SEED, resamples=RESAMPLES,
                                confidence=confidence)  # fmt: skip


def mean_interval(values: Sequence[float], *, confidence: float) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of one sample (seeded: the same values,
    the same interval)."""
    sample = np.asarray(values, dtype=np.float64)
    rng = np.random.Generator(np.random.PCG64(SEED))
    block = max(1, CELLS_PER_BLOCK // len(sample))  # bounded memory for large samples
    means = []
    for start in range(0, RESAMPLES, block):
        rows = min(block, RESAMPLES - start)
        means.append(sample[rng.integers(0, len(sample), size=(rows, len(sample)))].mean(axis=1))
    resampled = np.concatenate(means)
    tail = (1 - confidence) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail])
    return float(low), float(high)
