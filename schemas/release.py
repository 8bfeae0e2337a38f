"""Freeze the current event schemas: ``python -m schemas.release``.

For every event schema whose parsing canonical form differs from its latest release (or that was
never released), writes ``released/<FullName>/v<N+1>.avsc``: fully expanded, with docs, defaults
and logical types kept. It refuses, writing nothing, unless the new version and every released
version can each read the other's data.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import parse

from schemas.registry import SCHEMAS_DIR, SchemaRegistry, canonical_form

# Conventional Avro key order, so released files read like the hand-written ones.
_KEY_ORDER = (
    "name", "type", "logicalType", "precision", "scale", "doc",
    "symbols", "items", "values", "size", "fields", "default", "aliases", "order",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingRelease:
    full_name: str
    version: int
    schema: dict[str, Any]

    @property
    def relative_path(self) -> str:
        return f"released/{self.full_name}/v{self.version}.avsc"


def pending_releases(registry: SchemaRegistry) -> list[PendingRelease]:
    """Current schemas that differ from their latest release, as the versions to write."""
    pending = []
    for name in registry.names():
        current = registry.expanded(name)
        released = registry.released(name)
        if released and canonical_form(released[-1][1]) == canonical_form(current):
            continue
        version = released[-1][0] + 1 if released else 1
        pending.append(PendingRelease(full_name=name, version=version, schema=current))
    return pending


def incompatibilities(registry: SchemaRegistry, release: PendingRelease) -> list[str]:
    """Why the new version and some released version cannot read each other's data, if so."""
    problems = []
    for version, old in registry.released(release.full_name):
        for reader, writer, direction in (
            (release.schema, old, f"v{release.version} cannot read v{version} data"),
            (old, release.schema, f"v{version} cannot read v{release.version} data"),
        ):
            reason = _cannot_read(reader, writer)
            if reason is not None:
                problems.append(f"{release.full_name}: {direction}: {reason}")
    return problems


def write_release(root: Path, release: PendingRelease) -> Path:
    """Write one released version under ``root`` (the schemas directory)."""
    path = root / release.relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_ordered(release.schema), indent=2, ensure_ascii=False) + "\n")
    return path


def main() -> int:
    registry = SchemaRegistry(SCHEMAS_DIR)
    pending = pending_releases(registry)
    problems = [problem for release in pending for problem in incompatibilities(registry, release)]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(
            "refusing to release: give new fields a default, keep enum defaults, never retype "
            "or drop a field without a default; or publish the change as a new event type",
            file=sys.stderr,
        )
        return 1
    for release in pending:
        write_release(SCHEMAS_DIR, release)
        print(f"{release.full_name}: released v{release.version} ({release.relative_path})")
    for name in sorted(set(registry.names()) - {release.full_name for release in pending}):
        print(f"{name}: unchanged since v{registry.released(name)[-1][0]}")
    return 0


def _cannot_read(reader: dict[str, Any], writer: dict[str, Any]) -> str | None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(parse(json.dumps(reader)), parse(json.dumps(writer)))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = ", ".join(sorted(kind.value for kind in result.incompatibilities))
    details = ", ".join(sorted(result.messages))
    locations = ", ".join(sorted(result.locations))
    return f"{kinds} ({details}) at {locations}"


def _ordered(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_ordered(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    rank = {key: i for i, key in enumerate(_KEY_ORDER)}
    keys = sorted(schema, key=lambda key: (rank.get(key, len(rank)), key))
    return {key: _ordered(schema[key]) for key in keys}


if __name__ == "__main__":
    raise SystemExit(main())
