"""The README stays a front page, and the generated reference pages cover what they claim to."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from fillstream.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_LIMIT = 20 * 1024


@cache
def hooks() -> ModuleType:
    """``docs/hooks.py``, the MkDocs hook that generates the reference pages."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_a_front_page() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md: {size} bytes, at most {README_LIMIT}: move to docs/"


def test_readme_starts_with_the_two_commands() -> None:
    sections = README.read_text().split("\n## ")
    first = sections[1]
    assert first.startswith("The two commands"), first.splitlines()[0]
    assert "make run" in first and "make test" in first  # CI reads `make test` from here
    assert "make run" not in sections[0] and len(sections[0]) < 1000


def test_readme_links_into_docs_resolve() -> None:
    generated = {f"docs/{uri}" for uri in hooks().pages()}
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text())
    assert links
    missing = [link for link in links if link not in generated and not (ROOT / link).is_file()]
    assert not missing, f"README.md links to pages that do not exist: {missing}"


def test_every_command_and_subcommand_is_in_the_cli_reference() -> None:
    page: str = hooks().render_cli()
    for name, (module, _) in COMMANDS.items():
        assert f"\n## fillstream {name}\n" in page, name
        parser = importlib.import_module(module).parser()
        assert parser.format_usage().split()[1:3] == ["fillstream", name]
    assert "\n### fillstream alerts silence\n" in page
    assert "\n### fillstream projections rebuild\n" in page
    assert "\n### fillstream import executions\n" in page


@dataclass(frozen=True)
class _Setting:
    env: str
    field: str
    default: str
    doc: str
    phase: bool = False


def test_the_configuration_reference_lists_every_setting() -> None:
    rows = [
        _Setting(
            "FILLSTREAM_GRACE_MS", "grace_ms", "100", "How long matching holds <late> ones.", True
        ),
        _Setting("DATABASE_URL", "database_url", "", "A PostgreSQL to use."),
    ]
    page: str = hooks().render_configuration(rows)
    assert "\n## `FILLSTREAM_GRACE_MS`\n" in page and "Default: `100`." in page
    assert "\n## `DATABASE_URL`\n" in page and "Default: none." in page
    assert page.count("A phase may change it.") == 1
    assert "&lt;late&gt;" in page  # prose is not taken for HTML


def test_the_configuration_reference_is_the_settings_table() -> None:
    from core.settings import SETTINGS

    page: str = hooks().render_configuration(SETTINGS)
    assert all(f"\n## `{s.env}`\n" in page for s in SETTINGS)
    assert page.count("A phase may change it.") == sum(s.phase for s in SETTINGS) > 0


def test_the_benchmark_page_without_a_report() -> None:
    page: str = hooks().render_benchmarks(None)
    assert "No benchmark report yet: run `make bench`." in page


def test_the_benchmark_page_from_a_report() -> None:
    result = {
        "name": "ingest p99 ack latency @1000 ev/s",
        "value": 12.5,
        "unit": "ms",
        "baseline": 3.25,
        "baseline_name": "plain producer",
        "ratio": 3.85,
        "goal": "p99 < 50 ms",
        "met": True,
    }
    page: str = hooks().render_benchmarks([result])
    row = "| ingest p99 ack latency @1000 ev/s | 12.50 ms | plain producer: 3.25 ms | 3.85 |"
    assert row in page and "| met |" in page
