"""The layers hold: import-linter's contracts (pyproject.toml, run by ``make lint``) fail on an
import that climbs a floor, makes the domain impure or ties the data plane's packages together."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    name.rstrip("*")
    for name in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
]


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            PROJECT_ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def test_the_packages_keep_their_layers(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/_wrong.py", "import fillstream.cli", "core is not allowed to import fillstream"),
        ("domain/_wrong.py", "import psycopg", "domain is not allowed to import psycopg"),
        ("domain/_wrong.py", "import core.settings", "domain is not allowed to import core"),
        ("schemas/_wrong.py", "import core.kafka", "schemas is not allowed to import core"),
        ("deploy/_wrong.py", "import streams.stages", "deploy is not allowed to import streams"),
        ("streams/_wrong.py", "import projections.projector", "streams is not allowed to import"),
        ("projections/_wrong.py", "import control.guard", "projections is not allowed to import"),
    ],
)
def test_a_wrong_import_fails_the_lint(copy: Path, module: str, line: str, broken: str) -> None:
    wrong = copy / module
    wrong.write_text(f"{line}\n")
    try:
        result = lint(copy)
    finally:
        wrong.unlink()
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout
