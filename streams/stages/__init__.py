"""The worker's derivation stages, each a ``streams.runtime.deriver.Stage`` over a pure
``domain`` fold: matching, imported trades, the performance scopes and scores, regimes, paper
trading, position reconciliation, alerts."""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings
from schemas.codec import Codec
from streams.runtime.deriver import Stage
from streams.stages.alerts import AlertOnHealth, AlertOnPerformance, AlertOnReconciliation
from streams.stages.imported import CopyDerived as CopyDerivedTrades
from streams.stages.imported import CopyInstruments as CopyImportedInstruments
from streams.stages.imported import CopyReported as CopyReportedTrades
from streams.stages.imported import PublishImported
from streams.stages.matching import MatchExecutions
from streams.stages.paper import PaperBars, PaperInstruments, PaperSignals, PaperTrades
from streams.stages.performance import ScopeTrades, ScoreTrades
from streams.stages.reconciliation import CopyDerived, CopyReported, ReconcilePositions
from streams.stages.regimes import LabelRegimes

STAGES: dict[str, Callable[[Settings, Codec], Stage]] = {
    "matching": MatchExecutions.from_settings,
    "imported-reported": lambda settings, codec: CopyReportedTrades(codec),
    "imported-derived": lambda settings, codec: CopyDerivedTrades(codec),
    "imported-instruments": lambda settings, codec: CopyImportedInstruments(codec),
    "imported-trades": lambda settings, codec: PublishImported(codec),
    "scopes": lambda settings, codec: ScopeTrades(codec),
    "performance": ScoreTrades.from_settings,
    "regimes": LabelRegimes.from_settings,
    "paper-signals": lambda settings, codec: PaperSignals(codec),
    "paper-bars": lambda settings, codec: PaperBars(codec, settings.excursion_period),
    "paper-instruments": lambda settings, codec: PaperInstruments(codec),
    "paper": PaperTrades.from_settings,
    "reconciliation-reported": lambda settings, codec: CopyReported(codec),
    "reconciliation-derived": lambda settings, codec: CopyDerived(codec),
    "reconciliation": ReconcilePositions.from_settings,
    "alerts-performance": AlertOnPerformance.from_settings,
    "alerts-health": AlertOnHealth.from_settings,
    "alerts-reconciliation": AlertOnReconciliation.from_settings,
}
"""The stages, by name, in the order records flow through them."""

IMPORTED_STAGES = ("imported-reported", "imported-derived", "imported-instruments",
                   "imported-trades")  # fmt: skip
"""Run only with ``FILLSTREAM_IMPORTED_TRADES=on`` (the default)."""

PAPER_STAGES = ("paper-signals", "paper-bars", "paper-instruments", "paper")
"""Run only with ``FILLSTREAM_PAPER=on`` (the default)."""

STAGE_SOURCES: dict[str, str] = {
    "matching": MatchExecutions.source,
    "imported-reported": CopyReportedTrades.source,
    "imported-derived": CopyDerivedTrades.source,
    "imported-instruments": CopyImportedInstruments.source,
    "imported-trades": PublishImported.source,
    "scopes": ScopeTrades.source,
    "performance": ScoreTrades.source,
    "regimes": LabelRegimes.source,
    "paper-signals": PaperSignals.source,
    "paper-bars": PaperBars.source,
    "paper-instruments": PaperInstruments.source,
    "paper": PaperTrades.source,
    "reconciliation-reported": CopyReported.source,
    "reconciliation-derived": CopyDerived.source,
    "reconciliation": ReconcilePositions.source,
    "alerts-performance": AlertOnPerformance.source,
    "alerts-health": AlertOnHealth.source,
    "alerts-reconciliation": AlertOnReconciliation.source,
}
"""The catalog topic each stage reads."""
