"""Each performance figure's definition, as ``domain/performance/figures.py`` states it, and the
definitions' version: what the dashboard shows when a figure is hovered."""

from __future__ import annotations

import re

from api.endpoints import PERFORMANCE
from domain.performance import figures

VERSION = figures.DEFINITIONS_VERSION

_NOT_FIGURES = {
    "scope", "scope_key", "time_window", "window_key", "definitions_version", "account",
    "strategy", "variant", "instrument", "scope_trades", "currency", "as_of_trade_id",
    "snapshot_id", "projected_at", "first_exit", "last_exit",
}  # fmt: skip
_SAID_AS = {"trades": "trade", "wins": "win", "losses": "lose", "breakevens": "breakeven",
            "trading_days": "Daily PnL"}  # fmt: skip
"""Figures the definitions name in words rather than by their column."""


def _bullets(text: str) -> list[str]:
    bullets, current = [], ""
    for line in text.splitlines():
        if line.startswith("- "):
            if current:
                bullets.append(current)
            current = line[2:]
        elif current and line.startswith("  "):
            current += " " + line.strip()
        elif current:
            bullets.append(current)
            current = ""
    return bullets + ([current] if current else [])


def definitions() -> dict[str, str]:
    """Each figure of the performance view by column: the bullet of the definitions naming it."""
    bullets = _bullets(figures.__doc__ or "")
    found = {}
    for column in PERFORMANCE.columns:
        if column.name in _NOT_FIGURES:
            continue
        name = column.name
        said = re.compile(rf"``{re.escape(name)}``|\*{re.escape(_SAID_AS.get(name, name))}")
        bullet = next((b for b in bullets if said.search(b)), None)
        if bullet is None and name in _SAID_AS:
            bullet = next((b for b in bullets if _SAID_AS[name] in b), None)
        if bullet is not None:
            found[name] = bullet.replace("``", "")
    return found


FIGURES = tuple(c.name for c in PERFORMANCE.columns if c.name not in _NOT_FIGURES)
