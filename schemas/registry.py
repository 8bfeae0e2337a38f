"""The event schemas by Avro full name: the current ones in ``avro/`` and every released version.

On the wire a schema is known by its fingerprint: the 8-byte little-endian CRC-64-AVRO of its
parsing canonical form, as the Avro spec's single-object encoding prescribes. Released versions
(``released/<FullName>/v<N>.avsc``, written by ``python -m schemas.release``) stay readable.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint as _hex_fingerprint
from fastavro.schema import load_schema, to_parsing_canonical_form
from fastavro.types import Schema

from core.errors import CodecError
from schemas.events import EVENT_TYPES

SCHEMAS_DIR = Path(__file__).parent
"""The directory holding ``avro/`` (current schemas) and ``released/`` (frozen versions)."""

_VERSION_FILE = re.compile(r"v(\d+)\.avsc")


def canonical_form(schema: Schema) -> str:
    """The schema's parsing canonical form (no docs, defaults or logical types)."""
    return to_parsing_canonical_form(schema)


def fingerprint(schema: Schema) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of the schema's canonical form."""
    return bytes.fromhex(_hex_fingerprint(canonical_form(schema), "CRC-64-AVRO"))


class SchemaRegistry:
    """Current and released event schemas, loaded once from a schemas directory."""

    def __init__(self, root: Path = SCHEMAS_DIR) -> None:
        self._expanded: dict[str, dict[str, Any]] = {}
        self._parsed: dict[str, Schema] = {}
        self._fingerprints: dict[str, bytes] = {}
        self._released: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._writers: dict[bytes, tuple[str, Schema]] = {}
        for name in EVENT_TYPES:
            self._load_released(name, root / "released" / name)
            self._load_current(name, root / "avro" / f"{name}.avsc")

    def names(self) -> list[str]:
        """Full names of the current event schemas (``fillstream.ExecutionReported``, ...)."""
        return list(self._parsed)

    def current(self, full_name: str) -> Schema:
        """The parsed current schema of an event."""
        return self._parsed[self._known(full_name)]

    def expanded(self, full_name: str) -> dict[str, Any]:
        """The current schema as self-contained JSON, with docs, defaults and logical types."""
        return self._expanded[self._known(full_name)]

    def fingerprint(self, full_name: str) -> bytes:
        """The current schema's 8-byte CRC-64-AVRO fingerprint."""
        return self._fingerprints[self._known(full_name)]

    def released(self, full_name: str) -> list[tuple[int, dict[str, Any]]]:
        """Released versions of an event schema, oldest first, as ``(version, schema JSON)``."""
        return list(self._released[self._known(full_name)])

    def writer_for(self, fingerprint: bytes) -> tuple[str, Schema]:
        """The full name and parsed schema (current or released) that has this fingerprint."""
        found = self._writers.get(bytes(fingerprint))
        if found is None:
            raise CodecError(
                f"unknown writer schema fingerprint {bytes(fingerprint).hex()}: not a current or "
                "released fillstream schema (is the producer newer than this consumer?)"
            )
        return found

    def _known(self, full_name: str) -> str:
        if full_name not in self._parsed:
            known = ", ".join(self._parsed)
            raise CodecError(f"unknown event schema {full_name!r} (known: {known})")
        return full_name

    def _load_current(self, name: str, path: Path) -> None:
        if not path.is_file():
            raise CodecError(f"{name}: schema file {path.name} is missing from avro/")
        expanded = load_schema(str(path), _write_hint=False)
        if not isinstance(expanded, dict):
            raise CodecError(f"{name}: {path.name} is not a record schema")
        parsed = fastavro.parse_schema(expanded)
        self._expanded[name] = expanded
        self._parsed[name] = parsed
        self._fingerprints[name] = fingerprint(expanded)
        # Registered after the released versions, so an unchanged schema resolves to current.
        self._writers[self._fingerprints[name]] = (name, parsed)

    def _load_released(self, name: str, directory: Path) -> None:
        versions: list[tuple[int, dict[str, Any]]] = []
        for path in directory.glob("v*.avsc"):
            match = _VERSION_FILE.fullmatch(path.name)
            if match is None:
                continue
            schema = json.loads(path.read_text())
            if schema.get("name") != name:
                raise CodecError(
                    f"{name}: released/{name}/{path.name} holds {schema.get('name')!r}; "
                    "move it to its own directory"
                )
            versions.append((int(match.group(1)), schema))
            self._writers[fingerprint(schema)] = (name, fastavro.parse_schema(schema))
        self._released[name] = sorted(versions, key=lambda version: version[0])


@functools.cache
def default_registry() -> SchemaRegistry:
    """The registry of the schemas shipped with this package, loaded once."""
    return SchemaRegistry()
