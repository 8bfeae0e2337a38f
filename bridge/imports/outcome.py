"""What an import did, or for a dry run would do, file by file: what the report formats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.imports.grid import RejectedRow
from bridge.imports.parsed import ImportedEvent, Parsed
from bridge.imports.reconcile import Reconciliation

__all__ = ["FileResult", "ImportedEvent", "Outcome", "counts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    parsed: Parsed


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
    new: int | None = None
    already_in_log: int | None = None
    published: int = 0
    reconciliation: Reconciliation | None = None
    reconciled_with: FileResult | None = None

    @property
    def valid(self) -> int:
        return sum(f.parsed.valid for f in self.files)

    @property
    def unique_ids(self) -> set[str]:
        return {i for f in self.files for i in f.parsed.event_ids}

    @property
    def repeated(self) -> int:
        """Events that occurred more than once in the input (published once)."""
        return self.valid - len(self.unique_ids)

    @property
    def rejected(self) -> list[tuple[str, RejectedRow]]:
        return [(f.path, r) for f in self.files for r in f.parsed.rejected]


def counts(files: Sequence[FileResult]) -> list[tuple[str, str, int]]:
    """``(account, instrument, events)`` of the files' valid rows, sorted."""
    tally: Counter[tuple[str, str]] = Counter()
    for f in files:
        tally += f.parsed.counts()
    return [(a, i, n) for (a, i), n in sorted(tally.items())]
