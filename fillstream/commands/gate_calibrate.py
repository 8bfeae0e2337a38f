"""``fillstream gate calibrate``: fit each strategy's confidence calibration walk-forward and
publish the models the gate applies.

Reads the ``signal_outcomes`` view (each signal with a confidence and what it made: live trades,
else paper ones), runs ``domain.gate.calibration.walk_forward`` per strategy, and per strategy and
regime for the regimes with at least ``--min-regime`` outcomes, prints Brier score, expected
calibration error and the reliability diagram before and after on the held-out periods, and
publishes each model as a ``CalibrationFitted`` on ``derived.calibration`` (the next version of
its key), unless ``--dry-run``.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core.control_log import publish_control, read_events
from core.database import connect
from core.settings import Settings
from core.text import text_table as table
from domain.gate.calibration import Calibration, Outcome, ReliabilityBin, walk_forward
from schemas.catalog import DERIVED_CALIBRATION
from schemas.events import CalibrationFitted, Envelope, EventId, Source


def add_parser(commands: Any) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="fit confidence calibration walk-forward; publish the models"
    )
    calibrate.add_argument("--strategy", help="one strategy (default: every one with signals)")
    calibrate.add_argument("--period-days", type=int, default=7,
                           help="length of each walk-forward period (default 7)")  # fmt: skip
    calibrate.add_argument(
        "--min-outcomes", type=int, default=30,
        help="outcomes needed before a model replaces the raw confidence (default 30)",
    )  # fmt: skip
    calibrate.add_argument(
        "--min-regime", type=int, default=200,
        help="outcomes a regime needs for a model of its own (default 200)",
    )  # fmt: skip
    calibrate.add_argument("--dry-run", action="store_true", help="report, publish nothing")
    calibrate.add_argument("--json", action="store_true", help="print JSON")


def run(settings: Settings, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    outcomes = _outcomes(settings, args.strategy)
    versions: dict[tuple[str, str | None], int] = {}
    for fitted in read_events(settings, DERIVED_CALIBRATION, CalibrationFitted):
        key = (fitted.strategy, fitted.regime)
        versions[key] = max(versions.get(key, 0), fitted.version)
    results = []
    for (strategy, regime), rows in _keys(outcomes, args.min_regime).items():
        calibration = walk_forward(rows, now=now, period=timedelta(days=args.period_days),
                                   min_outcomes=args.min_outcomes)  # fmt: skip
        event = None
        if calibration.model is not None:
            version = versions.get((strategy, regime), 0) + 1
            event = fitted_event(strategy, regime, version, calibration, now)
            if not args.dry_run:
                publish_control(settings, DERIVED_CALIBRATION, f"{strategy}|{regime or ''}", event)
        results.append((strategy, regime, len(rows), calibration, event))
    if args.json:
        print(json.dumps([_json(*r) for r in results], indent=2))
        return 0
    if not results:
        print("no signals with a confidence and an outcome yet")
        return 0
    for strategy, regime, count, calibration, event in results:
        _print(strategy, regime, count, calibration, event, published=not args.dry_run)
    return 0


def _outcomes(settings: Settings, strategy: str | None) -> list[tuple[str, str | None, Outcome]]:
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT strategy, regime, signal_time, known_at, confidence, won"
            " FROM signal_outcomes WHERE %s::text IS NULL OR strategy = %s"
            " ORDER BY signal_time, signal_id",
            (strategy, strategy),
        ).fetchall()
    return [
        (name, regime, Outcome(signal_time=signal_time, known_time=max(known_at, signal_time),
                               confidence=confidence, won=won))
        for name, regime, signal_time, known_at, confidence, won in rows
    ]  # fmt: skip


def _keys(
    outcomes: Sequence[tuple[str, str | None, Outcome]], min_regime: int
) -> dict[tuple[str, str | None], list[Outcome]]:
    """Per strategy, and per strategy and regime for regimes with ``min_regime`` outcomes."""
    keys: dict[tuple[str, str | None], list[Outcome]] = defaultdict(list)
    for strategy, regime, outcome in outcomes:
        keys[(strategy, None)].append(outcome)
        if regime is not None:
            keys[(strategy, regime)].append(outcome)
    return {k: v for k, v in keys.items() if k[1] is None or len(v) >= min_regime}


def fitted_event(
    strategy: str, regime: str | None, version: int, calibration: Calibration, now: datetime
) -> CalibrationFitted:
    model = calibration.model
    assert model is not None
    key = f"{strategy}-{regime}" if regime else strategy
    return CalibrationFitted(
        envelope=Envelope(event_id=EventId(f"cal-{uuid.uuid4().hex}"), ts_event=now,
                          ts_ingested=now, source=Source.LIVE,
                          producer="fillstream gate calibrate"),
        model_id=f"cal-{key}-{version}",
        strategy=strategy,
        regime=regime,
        version=version,
        method=model.method,
        thresholds_x=model.thresholds_x,
        thresholds_y=model.thresholds_y,
        platt_a=model.platt_a,
        platt_b=model.platt_b,
        fitted_at=model.fitted_at,
        trained_on=model.trained_on,
        held_out=calibration.held_out,
        brier_raw=calibration.raw_brier,
        brier_calibrated=calibration.calibrated_brier,
        ece_raw=calibration.raw_ece,
        ece_calibrated=calibration.calibrated_ece,
    )  # fmt: skip


def _print(
    strategy: str,
    regime: str | None,
    count: int,
    c: Calibration,
    event: CalibrationFitted | None,
    *,
    published: bool,
) -> None:
    where = f"{strategy} in {regime}" if regime else strategy
    if event is None:
        print(f"{where}: {count} outcomes, too few for a model; the raw confidence stands")
        return
    print(f"{where}: {count} outcomes; {event.model_id} ({event.method}, fitted on "
          f"{event.trained_on}){' published' if published else ' (dry run)'}")  # fmt: skip
    if c.held_out:
        print(f"  held out {c.held_out}: Brier {c.raw_brier:.4f} raw, {c.calibrated_brier:.4f} "
              f"calibrated; calibration error {c.raw_ece:.4f} raw, {c.calibrated_ece:.4f} "
              f"calibrated")  # fmt: skip
        print(_diagram(c.raw_reliability, c.calibrated_reliability))


def _diagram(raw: Sequence[ReliabilityBin], calibrated: Sequence[ReliabilityBin]) -> str:
    """The reliability diagram as a table: per bin of predicted probability, what was predicted
    and how often those signals won, raw and calibrated, with a bar of the observed rate."""
    rows = []
    for label, bins in (("raw", raw), ("calibrated", calibrated)):
        for b in bins:
            bar = "#" * round(b.observed * 20)
            rows.append([label, f"{b.lower:.1f}-{b.upper:.1f}", str(b.count),
                         f"{b.mean_predicted:.3f}", f"{b.observed:.3f}", bar])  # fmt: skip
    return table(["", "bin", "signals", "predicted", "won", "won (0 to 1)"], rows)


def _json(
    strategy: str, regime: str | None, count: int, c: Calibration, event: CalibrationFitted | None
) -> dict[str, Any]:
    def bins(items: Sequence[ReliabilityBin]) -> list[dict[str, Any]]:
        return [{"lower": b.lower, "upper": b.upper, "count": b.count,
                 "predicted": b.mean_predicted, "won": b.observed} for b in items]  # fmt: skip

    return {
        "strategy": strategy, "regime": regime, "outcomes": count,
        "model_id": None if event is None else event.model_id,
        "method": None if event is None else event.method.value,
        "held_out": c.held_out, "brier_raw": c.raw_brier, "brier_calibrated": c.calibrated_brier,
        "ece_raw": c.raw_ece, "ece_calibrated": c.calibrated_ece,
        "reliability_raw": bins(c.raw_reliability),
        "reliability_calibrated": bins(c.calibrated_reliability),
    }  # fmt: skip
