"""Configuration files (TOML or YAML) named by a setting, read and parsed at start: a mistake is
one ``ConfigError`` naming the setting, the file and what was wrong."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from core.errors import ConfigError

T = TypeVar("T")


def load_file(path: Path, setting: str, parse: Callable[[Any], T]) -> T:
    """``parse`` of the document in ``path`` (``.toml``, ``.yaml`` or ``.yml``)."""
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(setting, f"must name a .toml, .yaml or .yml file, was {path}")
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(setting, f"cannot read {path}: {e.strerror or e}") from e
    try:
        if path.suffix == ".toml":
            document: Any = tomllib.loads(text)
        else:
            document = yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        reason = str(e).replace("\n", " ")
        raise ConfigError(setting, f"{path} is not valid {path.suffix[1:]}: {reason}") from e
    return parse(document)
