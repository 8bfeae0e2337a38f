"""Compiling and running the NinjaTrader C# code (``bridge/ninjatrader/*.cs``) with Mono.

NinjaTrader cannot run here, so the AddOn is compiled against the API's shape in
``tests/ninjatrader/NinjaTraderStubs.cs`` and driven by ``tests/ninjatrader/GoldenHarness.cs``.
Everything is compiled as C# 5, the language of the NinjaScript compiler, with warnings as errors.
To regenerate the golden files after a deliberate change:
``mono <harness.exe> golden tests/golden/ninjatrader``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT

SOURCES = sorted((PROJECT_ROOT / "bridge" / "ninjatrader").glob("*.cs"))
STUBS = PROJECT_ROOT / "tests" / "ninjatrader" / "NinjaTraderStubs.cs"
HARNESS = PROJECT_ROOT / "tests" / "ninjatrader" / "GoldenHarness.cs"
GOLDEN = PROJECT_ROOT / "tests" / "golden" / "ninjatrader"
_OPTIONS = ["-langversion:5", "-warnaserror+", "-nologo", "-r:System.Net.Http"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: `make setup` installs mono-mcs, mono-runtime and "
            "libmono-system-net-http4.0-cil (Mono's C# compiler and runtime)",
            pytrace=False,
        )
    return path


def compile_cs(sources: list[Path], out: Path, target: str) -> Path:
    """``mcs -target:<target>``; fails the test with the compiler's output on any error."""
    command = [_tool("mcs"), *_OPTIONS, f"-target:{target}", f"-out:{out}", *map(str, sources)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(
            f"mcs failed ({result.returncode}):\n{result.stdout}{result.stderr}", pytrace=False
        )
    return out


def build_library(directory: Path) -> Path:
    """The AddOn, the client and FillstreamSignals against the stubs, as NinjaTrader would."""
    return compile_cs([*SOURCES, STUBS], directory / "Fillstream.dll", "library")


def build_harness(directory: Path) -> Path:
    return compile_cs([*SOURCES, STUBS, HARNESS], directory / "GoldenHarness.exe", "exe")


def run_harness(
    harness: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("mono"), str(harness), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def golden_files() -> list[Path]:
    return sorted(GOLDEN.glob("*.json"))
