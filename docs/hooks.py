"""MkDocs hook: the reference pages that are generated from the code, so that they cannot drift.

- ``reference/cli.md`` from each command's parser (``fillstream.cli.COMMANDS``, ``parser()``);
- ``reference/configuration.md`` from the settings table (``core.settings.SETTINGS``);
- ``reference/topics.md`` from the topic catalog (``schemas/topics.toml``);
- ``development/benchmark-report.md`` from the last ``make bench`` report, which ``make bench``
  copies to ``docs/benchmarks/report.json``.

The pages exist only in the build (``File.generated``); nothing generated is committed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

HELP_WIDTH = 100
"""Columns of the rendered ``--help`` text, whatever the terminal that builds the site."""

BENCH_REPORT = "benchmarks/report.json"
"""The last benchmark report, relative to ``docs/`` (``make bench`` copies it there)."""

_DAY_MS = 86_400_000


class SettingRow(Protocol):
    """One row of the settings table, as ``core.settings.SETTINGS`` holds them."""

    @property
    def env(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def default(self) -> str: ...
    @property
    def doc(self) -> str: ...
    @property
    def phase(self) -> bool: ...


class TopicRow(Protocol):
    """One topic of the catalog (``schemas.catalog.TopicSpec``)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def partitions(self) -> int: ...
    @property
    def retention_ms(self) -> int: ...
    @property
    def cleanup_policy(self) -> str: ...
    @property
    def description(self) -> str: ...


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, render in pages().items():
        files.append(File.generated(config, uri, content=render(Path(config.docs_dir))))
    return files


def pages() -> dict[str, Callable[[Path], str]]:
    """The generated pages by path in the site, each rendered from the ``docs/`` folder."""
    return {
        "reference/cli.md": lambda _: render_cli(),
        "reference/configuration.md": lambda _: render_configuration(_settings()),
        "reference/topics.md": lambda _: render_topics(_catalog()),
        "development/benchmark-report.md": lambda docs: render_benchmarks(
            _bench_report(docs / BENCH_REPORT)
        ),
    }


# --- the command line --------------------------------------------------------------------------


def render_cli() -> str:
    """Every command of ``fillstream.cli.COMMANDS``: its usage, description and options, and
    those of its subcommands, as ``--help`` prints them."""
    from fillstream.cli import COMMANDS

    lines = [
        "# Command line",
        "",
        "One console script, `fillstream`, with one module per command in `fillstream/commands/`. "
        "This page is generated from their parsers when the site is built; "
        "`fillstream COMMAND --help` prints the same.",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    lines += [
        f"| [`{name}`](#{_slug('fillstream ' + name)}) | {_cell(summary)} |"
        for name, (_, summary) in COMMANDS.items()
    ]
    with _help_width(HELP_WIDTH):
        for name, (module, summary) in COMMANDS.items():
            parser: argparse.ArgumentParser = importlib.import_module(module).parser()
            lines += ["", f"## fillstream {name}", "", _sentence(summary), ""]
            lines += _help_block(parser)
            for sub in _subparsers(parser):
                lines += ["", f"### {sub.prog}", ""]
                lines += _help_block(sub)
    return "\n".join(lines) + "\n"


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser's subcommands, depth first, each once (aliases share a parser)."""
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub
                    yield from _subparsers(sub)


def _help_block(parser: argparse.ArgumentParser) -> list[str]:
    return ["```text", parser.format_help().rstrip(), "```"]


@contextmanager
def _help_width(columns: int) -> Iterator[None]:
    """argparse wraps help at the terminal's width (``COLUMNS``); pin it while rendering."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


# --- configuration -----------------------------------------------------------------------------


def _settings() -> Sequence[SettingRow]:
    from core.settings import SETTINGS

    return SETTINGS


def render_configuration(settings: Iterable[SettingRow]) -> str:
    """The settings table: each environment variable, its default and what it does."""
    rows = list(settings)
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable, read once when a process starts and "
        "validated: a bad value stops the process with one line naming the setting. "
        "This page is generated from the settings table in `core/settings.py` when the site is "
        "built. Variables read beside the settings (Grafana's database password, the alert "
        "channels' secrets) are described in [Deployment](../operations/deployment.md) and "
        "[Alert channels](alert-channels.md).",
        "",
        "A phase (`fillstream phase start`) may change the settings marked *phase*; rolling the "
        "phase back restores them.",
        "",
        "| variable | default | phase |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| [`{s.env}`](#{_slug(s.env)}) | {_default(s.default)} | {'phase' if s.phase else ''} |"
        for s in rows
    ]
    for s in rows:
        lines += [
            "",
            f"## `{s.env}`",
            "",
            _text(s.doc),
            "",
            f"Default: {_default(s.default)}. Read into `Settings.{s.field}`."
            + (" A phase may change it." if s.phase else ""),
        ]
    return "\n".join(lines) + "\n"


def _default(default: str) -> str:
    return f"`{default}`" if default else "none"


# --- topics ------------------------------------------------------------------------------------


def _catalog() -> Sequence[TopicRow]:
    from schemas.catalog import load_catalog

    return list(load_catalog().values())


_TOPIC_GROUPS = (
    ("Raw events", "raw.", "What NinjaTrader reported or the import read: the source of truth."),
    ("Derived events", "derived.", "What the stream stages derive from the raw events."),
    ("Control", "control.", "Configuration changes, as events: who changed what, and why."),
    (
        "Stage internals",
        "streams-",
        "Re-keyed inputs and the stages' changelogs, written in the stages' transactions.",
    ),
)


def render_topics(topics: Iterable[TopicRow]) -> str:
    """The topic catalog, grouped by kind: each topic's records, key, partitions and
    retention."""
    rows = list(topics)
    lines = [
        "# Topics",
        "",
        "Every topic fillstream reads or writes, from the catalog `schemas/topics.toml` (this page "
        "is generated from it when the site is built). `fillstream up` and `fillstream topics` "
        "create them, idempotently. Names are relative to the namespace "
        "(`FILLSTREAM_NAMESPACE`, default `fillstream`): `raw.executions` is the Kafka topic "
        "`fillstream.raw.executions`.",
    ]
    placed: set[str] = set()
    for title, prefix, intro in (*_TOPIC_GROUPS, ("Others", "", "")):
        group = [t for t in rows if t.name.startswith(prefix) and t.name not in placed]
        if not group:
            continue
        placed.update(t.name for t in group)
        lines += ["", f"## {title}"]
        if intro:
            lines += ["", intro]
        for t in group:
            lines += [
                "",
                f"### `{t.name}`",
                "",
                _text(t.description),
                "",
                f"- records: {_value(t.value)}",
                f"- key: {_key(t.key)}",
                f"- partitions: {t.partitions}",
                f"- retention: {_retention(t)}",
            ]
    return "\n".join(lines) + "\n"


def _value(value: str) -> str:
    # a schema's name, or a description in parentheses for the stages' JSON rows
    return _text(value.strip("()")) if value.startswith("(") else f"`{value}`"


def _key(key: str) -> str:
    # a key's layout (``account|instrument``), or a description when it varies by record
    return f"`{key}`" if " " not in key else _text(key.strip("()"))


def _retention(topic: TopicRow) -> str:
    if topic.cleanup_policy == "compact":
        return "compacted: the latest record of each key is kept"
    if topic.retention_ms < 0:
        return "forever"
    days = topic.retention_ms / _DAY_MS
    return f"{days:g} days"


# --- benchmarks --------------------------------------------------------------------------------


def _bench_report(path: Path) -> list[dict[str, Any]] | None:
    if not path.exists():
        return None
    results: list[dict[str, Any]] = json.loads(path.read_text())
    return results


def render_benchmarks(results: Sequence[Mapping[str, Any]] | None) -> str:
    """The last ``make bench`` report as a table, or a note that there is none yet."""
    lines = [
        "# Benchmark report",
        "",
        "The last result of each benchmark: every `make bench` run merges what it measured "
        f"into `docs/{BENCH_REPORT}`, and this page is generated from that file when the site is "
        "built. "
        "What each benchmark measures, and against what: [Benchmarks](benchmarks.md).",
        "",
    ]
    if results is None:
        return "\n".join([*lines, "No benchmark report yet: run `make bench`.", ""])
    lines += [
        "| benchmark | value | baseline | ratio | goal | |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for r in results:
        unit = r.get("unit", "")
        baseline = f"{_number(r['baseline'])} {unit}".strip()
        if r.get("baseline_name"):
            baseline = f"{_cell(r['baseline_name'])}: {baseline}"
        met = r.get("met")
        lines.append(
            f"| {_cell(r['name'])} | {_number(r['value'])} {_cell(unit)} | {baseline} "
            f"| {r['ratio']:.2f} | {_cell(r['goal'])} "
            f"| {'' if met is None else 'met' if met else '**missed**'} |"
        )
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


# --- Markdown ----------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _text(text: str) -> str:
    """Prose for Markdown: ``<`` and ``>`` outside code spans are shown, not taken for HTML."""
    parts = _CODE_SPAN.split(text)
    return "".join(
        part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;")
        for part in parts
    )


def _sentence(text: str) -> str:
    """A summary line (``start the local stack``) as a sentence."""
    return _text(text[:1].upper() + text[1:].rstrip(".") + ".")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's ``toc`` gives a heading."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", heading).strip().lower())
