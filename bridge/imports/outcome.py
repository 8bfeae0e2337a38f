"""What an import did, or for a dry run would do, file by file: what the report formats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.imports.grid import ImportResult, RejectedRow
from bridge.imports.reconcile import Reconciliation
from schemas.events import ExecutionReported, TradeReported

ImportedEvent = ExecutionReported | TradeReported


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    result: ImportResult[ExecutionReported] | ImportResult[TradeReported]

    @property
    def events(self) -> tuple[ImportedEvent, ...]:
        return self.result.events


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """Everything an import did or, for a dry run, would do."""

    kind: str
    """``executions`` or ``trades``."""
    topic: str
    tz: str
    files: tuple[FileResult, ...]
    dry_run: bool
    refused: bool
    """Rejected rows and no ``--skip-invalid``: nothing is published."""
    repeated: int = 0
    """Events that occurred more than once in the input (published once)."""
    new: int | None = None
    already_in_log: int | None = None
    published: int = 0
    reconciliation: Reconciliation | None = None
    reconciled_with: FileResult | None = None

    @property
    def events(self) -> list[ImportedEvent]:
        return [event for f in self.files for event in f.events]

    @property
    def unique_ids(self) -> set[str]:
        return {e.envelope.event_id for e in self.events}

    @property
    def rejected(self) -> list[tuple[str, RejectedRow]]:
        return [(f.path, r) for f in self.files for r in f.result.rejected]


def counts(events: Sequence[ImportedEvent]) -> list[tuple[str, str, int]]:
    """``(account, instrument, events)``, sorted by account and instrument."""
    tally = Counter((e.account, e.instrument) for e in events)
    return [(a, i, n) for (a, i), n in sorted(tally.items())]
