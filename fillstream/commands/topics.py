"""``fillstream topics``: create the catalog's topics in the namespace (idempotent), list them."""

from __future__ import annotations

import argparse
import json

from core.kafka import ensure_topics
from core.settings import Settings
from schemas.catalog import load_catalog


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream topics", description=__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    created = set(ensure_topics(settings))
    rows = [
        {
            "topic": settings.topic(spec.name),
            "partitions": spec.partitions,
            "cleanup": spec.cleanup_policy,
            "retention": "forever"
            if spec.retention_ms < 0
            else f"{spec.retention_ms // 86_400_000}d",
            "value": spec.value,
            "created": settings.topic(spec.name) in created,
        }
        for spec in load_catalog().values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(str(r["topic"])) for r in rows)
    print(f"{'topic'.ljust(width)}  partitions  cleanup  retention  value")
    for r in rows:
        mark = "  (created)" if r["created"] else ""
        topic, partitions = str(r["topic"]), r["partitions"]
        cleanup, retention = r["cleanup"], r["retention"]
        line = f"{topic.ljust(width)}  {partitions:>10}  {cleanup:<7}  {retention:<9}"
        print(f"{line}  {r['value']}{mark}")
    return 0
