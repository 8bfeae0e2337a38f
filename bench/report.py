"""The benchmark report format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    name: str
    value: float
    unit: str
    baseline: float
    baseline_name: str
    ratio: float
    goal: str
    met: bool


def write(results: list[Result], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


def merge(results: list[Result], path: Path) -> None:
    """Write ``results`` into the report at ``path`` (the docs' copy): a benchmark measured now
    replaces the one of the same name, the others stay as the last run left them, in order."""
    kept: list[dict[str, object]] = json.loads(path.read_text()) if path.exists() else []
    new = {r.name: asdict(r) for r in results}
    merged = [new.pop(str(old["name"]), old) for old in kept] + list(new.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")


def table(results: list[Result]) -> str:
    lines = [f"{'benchmark':<34} {'value':>12} {'baseline':>12} {'ratio':>7}  goal"]
    for r in results:
        mark = "met" if r.met else "MISSED"
        lines.append(
            f"{r.name:<34} {r.value:>10.1f} {r.unit:<1} {r.baseline:>10.1f}   {r.ratio:>6.2f}  "
            f"{r.goal} ({mark})"
        )
    return "\n".join(lines)
