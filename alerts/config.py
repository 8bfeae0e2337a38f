"""Reading one ``[channels.<name>]`` table: typed values, secrets from the environment, and
every mistake a ``ConfigError`` naming its place (``channels.ops-mail.port``)."""

from __future__ import annotations

import difflib
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRETS = {"password": "password_env", "token": "token_env"}


class Table:
    """A channel's table, read key by key; ``refuse_unknown`` then refuses every key no reader
    asked for, so a typo is an error rather than a setting silently ignored."""

    def __init__(self, table: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> None:
        self.table = table
        self.where = where
        self.environ = environ
        self._asked: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}"

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path(key), reason)

    def _get(self, key: str) -> Any:
        self._asked.add(key)
        return self.table.get(key)

    def required_text(self, key: str) -> str:
        value = self.optional_text(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be non-empty text, was {value!r}")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.optional_text(key)
        return default if value is None else value

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, was {value!r}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"must be an integer {low}-{high}, was {value!r}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise self.error(key, f"must be a positive number of seconds, was {value!r}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, was {value!r}")
        return value

    def texts(self, key: str, default: Sequence[str] | None = None) -> tuple[str, ...]:
        """A list of non-empty texts; required (and non-empty) unless ``default`` is given."""
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required (a list)")
            return tuple(default)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.error(key, f"must be a non-empty list of texts, was {value!r}")
        return tuple(value)

    def texts_table(self, key: str) -> dict[str, str]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(key, f"must be a table of texts, was {value!r}")
        return dict(value)

    def secret(self, key: str, default_variable: str | None = None) -> str:
        """The value of the environment variable ``key`` names (secrets never sit in the file)."""
        variable = self.optional_text(key) or default_variable
        if variable is None:
            raise self.error(key, "is required: the name of the environment variable to read")
        return self.variable(key, variable)

    def variable(self, where: str, variable: str) -> str:
        if not _ENV_NAME.match(variable):
            raise self.error(where, f"must name an environment variable, was {variable!r}")
        value = self.environ.get(variable)
        if not value:
            raise self.error(where, f"names {variable}, which is not set in the environment")
        return value

    def url(self, key: str) -> str:
        """An http(s) URL, written as ``key`` or read from the variable ``<key>_env`` (a Slack or
        Discord webhook URL is itself a secret)."""
        written = self.optional_text(key)
        variable = self.optional_text(f"{key}_env")
        if (written is None) == (variable is None):
            raise self.error(key, f"is required: give either {key} or {key}_env")
        url = written if written is not None else self.variable(f"{key}_env", str(variable))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            where = key if written is not None else f"{key}_env"
            raise self.error(where, f"must be an http:// or https:// URL, was {redacted(url)!r}")
        return url

    def ca_file(self) -> str | None:
        """``ca_file``: a PEM file of CAs to trust instead of the system's, loaded once here."""
        path = self.optional_text("ca_file")
        if path is not None:
            try:
                ssl.create_default_context(cafile=path)
            except (OSError, ssl.SSLError) as e:
                raise self.error("ca_file", f"is not a readable PEM file of CAs: {e}") from e
        return path

    def refuse_unknown(self, kind: str) -> None:
        for key in self.table:
            if key in self._asked:
                continue
            if key in _SECRETS:
                raise self.error(
                    key,
                    "is never written in the file: put it in an environment variable and name "
                    f"the variable with {_SECRETS[key]}",
                )
            known = sorted(self._asked)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise self.error(
                str(key), f"is not a setting of {kind} channels ({hint}known: {', '.join(known)})"
            )


def redacted(url: str) -> str:
    """``scheme://host[:port]`` of a URL: its path and query may carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return (
        f"{parts.scheme}://{host}{port}/…"
        if parts.path.strip("/")
        else f"{parts.scheme}://{host}{port}"
    )
