"""What the commands print for people and machines: tables, moments, JSON values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, the headers first."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def when(at: datetime) -> str:
    """A moment for a table: UTC, to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def json_value(value: Any) -> Any:
    """``json.dumps``'s ``default``: a moment in ISO 8601, anything else (amounts) as text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def plain(value: Decimal | None) -> str | None:
    """A decimal as written, without the trailing zeros of the Avro scale: ``604.18``."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
