"""Market regimes end to end, on a real broker, worker, projector and PostgreSQL: bars through
the bridge are labelled by the worker's regime stage, projected, and every trade is tagged with
the regime in force at its entry, as the classifier computes it alone; a new classifier version
relabels history beside the old one, which serves until `fillstream regimes serve` says."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from core.database import connect
from core.errors import FillstreamError
from core.settings import Settings
from domain.experiments.rollout import sharpe
from domain.performance.figures import TradeResult, summarize
from domain.regimes import RegimeLabel, label_bars, parse_parameters, regime_at
from fillstream.commands.phase import main as phase_main
from fillstream.commands.regimes import main as regimes_main
from fillstream.commands.regimes import serve_version
from schemas.events import BarClosed, Envelope, EventId
from tests.fixtures.pipeline import ServiceProcess, execution, post, query
from tests.fixtures.services import wait_for
from tests.integration.test_walking_skeleton import Pipeline, running

pytestmark = pytest.mark.integration

V1 = "atr_period=3,volatility_window=8,trend_window=5"
V2 = "version=2,atr_period=5,volatility_window=10,trend_window=8,trend_enter=0.5"
START = datetime(2026, 9, 22, 14, tzinfo=UTC)
BARS = 180
ENTRIES = (12, 30, 55, 81, 104, 130, 160)
"""The minutes (after START) at which a trade enters; it exits 3 minutes later."""


def walk(count: int = BARS) -> list[dict[str, Any]]:
    """One-minute NQ bars of a random walk, quiet and wild by turns, as the bridge takes them."""
    rng = np.random.default_rng(7)
    close, bars = Decimal(21000), []
    for i in range(1, count + 1):
        sigma = 6 if (i // 30) % 2 else 1
        previous = close
        close = previous + Decimal(int(sigma * rng.standard_normal() * 4)) / 4
        high = max(previous, close) + Decimal(int(sigma * abs(rng.standard_normal()) * 4)) / 4
        low = min(previous, close) - Decimal(int(sigma * abs(rng.standard_normal()) * 4)) / 4
        bars.append({
            "type": "bar", "ts_event": _iso(START + timedelta(minutes=i)), "source": "live",
            "producer": "tests", "instrument": "NQ 12-26", "period": "1 Minute",
            "open": str(previous), "high": str(high), "low": str(low), "close": str(close),
            "volume": 100,
        })  # fmt: skip
    return bars


def trades_of(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A long trade entering at each of ENTRIES (30 s into the minute), out 3 minutes later."""
    closes = {b["ts_event"]: b["close"] for b in bars}
    executions = []
    for n, minute in enumerate(ENTRIES):
        entry, exit_ = (
            START + timedelta(minutes=minute, seconds=30),
            START + timedelta(minutes=minute + 3, seconds=30),
        )
        executions += [
            execution(f"r{n}-in", "buy", closes[_iso(START + timedelta(minutes=minute))],
                      ts=_iso(entry), strategy="Breakout"),
            execution(f"r{n}-out", "sell", closes[_iso(START + timedelta(minutes=minute + 3))],
                      ts=_iso(exit_), strategy="Breakout"),
        ]  # fmt: skip
    return executions


def labels(bars: list[dict[str, Any]], regime: str) -> list[RegimeLabel]:
    """What the classifier alone labels these bars."""
    events = [
        BarClosed(
            envelope=Envelope(
                event_id=EventId(f"b{i}"),
                ts_event=_at(b["ts_event"]),
                ts_ingested=_at(b["ts_event"]),
                producer="tests",
            ),
            instrument=b["instrument"],
            period=b["period"],
            open=Decimal(b["open"]),
            high=Decimal(b["high"]),
            low=Decimal(b["low"]),
            close=Decimal(b["close"]),
            volume=b["volume"],
        )  # fmt: skip
        for i, b in enumerate(bars)
    ]
    return list(label_bars(events, parse_parameters(regime)))


def changes(all_labels: list[RegimeLabel]) -> list[RegimeLabel]:
    return [
        label
        for i, label in enumerate(all_labels)
        if i == 0 or label.label != all_labels[i - 1].label
    ]


def expected_tags(all_labels: list[RegimeLabel]) -> dict[str, str]:
    """trade id → the regime in force at its entry."""
    tags = {}
    for minute in ENTRIES:
        found = regime_at(all_labels, START + timedelta(minutes=minute, seconds=30))
        assert found is not None
        tags[f"{minute}"] = found.label.value
    return tags


def tagged(settings: Settings) -> dict[str, str]:
    rows = query(settings, "SELECT entry_time, regime FROM trade_regimes")
    return {str(int((entry - START).total_seconds() // 60)): regime for entry, regime in rows}


@pytest.fixture
def regime_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, regime=V1)


@pytest.fixture
def pipeline(regime_settings: Settings) -> Iterator[Pipeline]:
    yield from running(regime_settings)


def test_trades_are_tagged_with_the_regime_at_entry_and_relabelled_by_a_new_classifier(
    regime_settings: Settings,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = regime_settings
    bars = walk()
    assert post(settings, bars)[0] == 202
    assert post(settings, trades_of(bars))[0] == 202

    v1 = labels(bars, V1)
    v1_changes = changes(v1)
    assert len(v1_changes) >= 4  # the walk moves through several regimes
    count = "SELECT count(*) FROM regime_labels WHERE classifier_version = %s"
    wait_for(lambda: query(settings, count, (1,)) == [(len(v1_changes),)], timeout=120,
             message=f"regime labels: {query(settings, count, (1,))}")  # fmt: skip
    wait_for(lambda: len(tagged(settings)) == len(ENTRIES), timeout=120, message="no trades")

    # the labels are the classifier's changes, measures to ten places
    projected = query(
        settings,
        "SELECT ts_event, label, bars, atr_percentile FROM regime_labels ORDER BY ts_event",
    )
    assert [(t, label) for t, label, _, _ in projected] == [
        (c.ts_event, c.label.value) for c in v1_changes
    ]
    for (_, _, bars_taken, percentile), change in zip(projected, v1_changes, strict=True):
        assert bars_taken == v1.index(change) + 1
        if change.atr_percentile is None:
            assert percentile is None
        else:
            assert abs(percentile - change.atr_percentile) <= Decimal("0.5e-10")

    # each trade carries the regime in force at its entry
    v1_tags = expected_tags(v1)
    assert tagged(settings) == v1_tags
    assert len(set(v1_tags.values())) >= 2

    # the figures per regime are the trades' own, grouped
    trades = query(
        settings, "SELECT regime, net_pnl FROM trade_regimes WHERE strategy = 'Breakout'"
    )
    by_regime: dict[str, list[Decimal]] = {}
    for regime, net in trades:
        by_regime.setdefault(regime, []).append(net)
    figures = query(
        settings,
        "SELECT regime, trades, wins, net_profit, avg_net_pnl FROM performance_by_regime"
        " WHERE account = 'Sim101' AND strategy = 'Breakout'",
    )
    assert {r[0]: r[1:] for r in figures} == {
        regime: (len(nets), sum(1 for n in nets if n > 0), sum(nets),
                 round(sum(nets) / len(nets), 6))
        for regime, nets in by_regime.items()
    }  # fmt: skip

    # and the performance figures of each regime's trades, as the performance stage's own
    # definitions give them (each regime its own equity curve, in exit order)
    rows = query(
        settings,
        "SELECT regime, exit_time, net_pnl, mae, mfe, trade_id FROM trade_regimes"
        " WHERE account = 'Sim101' AND strategy = 'Breakout' ORDER BY exit_time, trade_id",
    )
    results: dict[str, list[TradeResult]] = {}
    for regime, exit_time, net, mae, mfe, trade_id in rows:
        results.setdefault(regime or "unlabelled", []).append(
            TradeResult(
                exit_time=exit_time, net=net, gross=net, mae=mae, mfe=mfe, trade_id=trade_id
            )  # fmt: skip
        )
    columns = ("avg_win, avg_loss, payoff_ratio, expectancy, max_drawdown, current_drawdown,"
               " recovery_factor, longest_win_streak, longest_loss_streak, sharpe_per_trade,"
               " avg_mae, avg_mfe, first_exit, last_exit")  # fmt: skip
    scoped = query(
        settings,
        f"SELECT regime, {columns} FROM performance_by_regime"
        " WHERE account = 'Sim101' AND strategy = 'Breakout'",
    )
    assert {r[0] for r in scoped} == set(results)
    assert any(row[5] > 0 for row in scoped)  # some regime lost from a peak

    def near(got: Decimal | None, expected: Decimal | float | None) -> bool:
        """Rounded to six places in the view."""
        if got is None or expected is None:
            return got is expected
        return abs(float(got) - float(expected)) <= 1e-6

    for regime, *got in scoped:
        p = summarize(results[regime])
        nets = [float(t.net) for t in results[regime]]
        per_trade = sharpe(nets) if len(set(nets)) > 1 else None
        rounded = [p.avg_win, p.avg_loss, p.payoff_ratio, p.expectancy, p.recovery_factor,
                   per_trade, p.avg_mae, p.avg_mfe]  # fmt: skip
        assert all(map(near, [got[i] for i in (0, 1, 2, 3, 6, 9, 10, 11)], rounded)), (
            regime, got, rounded)  # fmt: skip
        assert [got[i] for i in (4, 5, 7, 8, 12, 13)] == [
            p.max_drawdown, p.current_drawdown, p.longest_win_streak, p.longest_loss_streak,
            p.first_exit, p.last_exit,
        ], regime  # fmt: skip

    # the CLI shows the served version and each instrument's regime now
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert regimes_main(["current", "--json"]) == 0
    (now,) = json.loads(capsys.readouterr().out)
    assert (now["instrument"], now["regime"], now["classifier_version"]) == (
        "NQ 12-26", v1_changes[-1].label.value, 1
    )  # fmt: skip

    # a new classifier relabels history in a phase, beside version 1, which carries on
    pipeline.worker.stop()
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert regimes_main(["relabel", V2]) == 0
    assert "phase regimes-v2" in capsys.readouterr().out
    with pytest.raises(FillstreamError, match="classifier version 2 is configured already"):
        regimes_main(["relabel", "version=2,atr_period=7"])
    worker = ServiceProcess(settings, "worker", settings.worker_port).start()
    try:
        v2 = labels(bars, V2)
        wait_for(lambda: query(settings, count, (2,)) == [(len(changes(v2)),)], timeout=120,
                 message=f"version 2 labels: {query(settings, count, (2,))}")  # fmt: skip
        assert query(settings, count, (1,)) == [(len(v1_changes),)]  # version 1 as it was
        assert tagged(settings) == v1_tags  # the oldest version serves until told otherwise

        # new bars: both versions label them
        later = walk(BARS + 60)
        assert post(settings, later[BARS:])[0] == 202
        v1_all, v2_all = changes(labels(later, V1)), changes(labels(later, V2))
        both = "SELECT classifier_version, count(*) FROM regime_labels GROUP BY 1 ORDER BY 1"
        wait_for(lambda: query(settings, both) == [(1, len(v1_all)), (2, len(v2_all))],
                 timeout=120, message=f"labels of both: {query(settings, both)}")  # fmt: skip
        assert len(v1_all) > len(v1_changes)  # version 1 kept labelling

        assert regimes_main(["list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(v["classifier_version"], v["labels"], v["served"]) for v in listed] == [
            (1, len(v1_all), True), (2, len(v2_all), False)
        ]  # fmt: skip

        assert regimes_main(["serve", "2", "--by", "tests"]) == 0
        assert tagged(settings) == expected_tags(v2)
        with connect(settings) as conn:
            with pytest.raises(FillstreamError, match="classifier version 3 has no labels"):
                serve_version(conn, 3, None, "tests")
            with pytest.raises(FillstreamError, match="no labels on '5 Minute' bars"):
                serve_version(conn, 1, "5 Minute", "tests")
    finally:
        worker.stop()

    # rolling the phase back takes version 2's labels away; version 1 serves again, complete
    assert phase_main(["rollback", "regimes-v2", "--execute"]) == 0
    capsys.readouterr()
    assert query(settings, count, (2,)) == [(0,)]
    assert tagged(settings) == v1_tags
    worker = ServiceProcess(settings, "worker", settings.worker_port).start()
    try:
        wait_for(lambda: query(settings, both) == [(1, len(v1_all))], timeout=120,
                 message=f"labels after the rollback: {query(settings, both)}")  # fmt: skip
    finally:
        worker.stop()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
