"""Topic names are the catalog's constants: code names a topic by ``schemas.catalog``, never
by a literal, and every constant is a topic of ``topics.toml``."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from core.settings import PROJECT_ROOT
from schemas import catalog
from schemas.catalog import load_catalog
from tests.unit.deploy.test_files import PACKAGES


def constants() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(catalog).items()
        if name.isupper() and isinstance(value, str)
    }


def test_every_topic_has_a_constant_and_every_constant_is_a_topic() -> None:
    assert sorted(constants().values()) == sorted(load_catalog())


def test_no_module_names_a_topic_by_a_literal() -> None:
    topics = set(load_catalog()) - {"health"}  # "health" is also a service's and a check's name
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path == Path(catalog.__file__):
                continue
            for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
                if token.type == tokenize.STRING and token.string[1:-1] in topics:
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{token.start[0]}")
    assert not found, f"topic names written as literals: {found}"
