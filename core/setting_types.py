"""The types of setting: how each reads its environment variable, checks it and writes it back.

``read(name, text)`` turns the variable's text (None when it is unset) into the value, or raises
a one-line ``ConfigError`` naming the variable; ``write(value)`` is the text ``read`` turns back
into the same value (None: the variable is left unset); ``shown`` is the default as the
configuration reference shows it ("" when there is none: the setting's doc says what then).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from core.errors import ConfigError

T = TypeVar("T")

_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PERIOD = re.compile(r"[1-9][0-9]* [A-Z][A-Za-z]*")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


class SettingType(Protocol[T]):
    @property
    def shown(self) -> str: ...

    def read(self, name: str, text: str | None) -> T: ...

    def write(self, value: T) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _WithDefault(Generic[T]):
    """A type whose value is written as ``str`` gives it, with a default of its own."""

    default: T

    @property
    def shown(self) -> str:
        return str(self.default)

    def write(self, value: T) -> str | None:
        return str(value)


@dataclass(frozen=True, slots=True)
class Folder(_WithDefault[Path]):
    """A folder, made absolute; unset or empty: the default."""

    def read(self, name: str, text: str | None) -> Path:
        return Path(text or self.default).resolve()


@dataclass(frozen=True, slots=True)
class Namespace(_WithDefault[str]):
    """A prefix of topics, groups and the schema name; empty is refused."""

    def read(self, name: str, text: str | None) -> str:
        value = self.default if text is None else text
        if not _NAMESPACE.match(value):
            raise ConfigError(
                name,
                f"must be lowercase letters, digits and _, starting with a letter; was {value!r}",
            )
        return value


@dataclass(frozen=True, slots=True)
class Text(_WithDefault[str]):
    """Any text, taken as it is (``strip``: without surrounding blanks); unset: the default."""

    strip: bool = False

    def read(self, name: str, text: str | None) -> str:
        value = self.default if text is None else text
        return value.strip() if self.strip else value


@dataclass(frozen=True, slots=True)
class OptionalText:
    """Any text; unset or empty: None (written back as empty)."""

    @property
    def shown(self) -> str:
        return ""

    def read(self, name: str, text: str | None) -> str | None:
        return text or None

    def write(self, value: str | None) -> str | None:
        return value or ""


@dataclass(frozen=True, slots=True)
class Token:
    """A secret of at least 16 characters; unset or empty: None (and left unset)."""

    @property
    def shown(self) -> str:
        return ""

    def read(self, name: str, text: str | None) -> str | None:
        if not text:
            return None
        if len(text) < 16:
            raise ConfigError(name, "must be at least 16 characters long")
        return text

    def write(self, value: str | None) -> str | None:
        return value


@dataclass(frozen=True, slots=True)
class Host(_WithDefault[str]):
    """An address to bind: an IPv4 or IPv6 address, or a host name; unset or empty: the
    default."""

    def read(self, name: str, text: str | None) -> str:
        value = text or self.default
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.fullmatch(value):
                raise ConfigError(
                    name, f"must be an address to bind such as 127.0.0.1 or 0.0.0.0, was {value!r}"
                ) from None
        return value


@dataclass(frozen=True, slots=True)
class Port(_WithDefault[int]):
    def read(self, name: str, text: str | None) -> int:
        if not text:
            return self.default
        try:
            port = int(text)
        except ValueError:
            raise ConfigError(name, f"must be a port number, was {text!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(name, f"must be between 1 and 65535, was {port}")
        return port


@dataclass(frozen=True, slots=True)
class Choice(_WithDefault[str]):
    """One of ``choices``, in any case (read in lower case); empty is refused."""

    choices: tuple[str, ...] = ()

    def read(self, name: str, text: str | None) -> str:
        value = (self.default if text is None else text).lower()
        if value not in self.choices:
            raise ConfigError(name, f"must be one of {', '.join(self.choices)}, was {value!r}")
        return value


@dataclass(frozen=True, slots=True)
class Switch(_WithDefault[bool]):
    """``on`` or ``off``, in any case: True or False."""

    @property
    def shown(self) -> str:
        return _on_off(self.default)

    def read(self, name: str, text: str | None) -> bool:
        value = (_on_off(self.default) if text is None else text).lower()
        if value not in ("on", "off"):
            raise ConfigError(name, f"must be one of on, off, was {value!r}")
        return value == "on"

    def write(self, value: bool) -> str | None:
        return _on_off(value)


@dataclass(frozen=True, slots=True)
class Seconds(_WithDefault[float]):
    """A number of seconds, above 0 and at most a day."""

    @property
    def shown(self) -> str:
        return f"{self.default:g}"

    def read(self, name: str, text: str | None) -> float:
        if not text:
            return self.default
        try:
            seconds = float(text)
        except ValueError:
            raise ConfigError(name, f"must be a number of seconds, was {text!r}") from None
        if not 0 < seconds <= 86400:
            raise ConfigError(name, f"must be between 0 and 86400 seconds, was {text}")
        return seconds


@dataclass(frozen=True, slots=True)
class Count(_WithDefault[int]):
    """A whole number from ``low`` to ``high``."""

    low: int = 1
    high: int = 100_000

    def read(self, name: str, text: str | None) -> int:
        if not text:
            return self.default
        try:
            count = int(text)
        except ValueError:
            raise ConfigError(name, f"must be a whole number, was {text!r}") from None
        if not self.low <= count <= self.high:
            raise ConfigError(name, f"must be between {self.low} and {self.high}, was {count}")
        return count


@dataclass(frozen=True, slots=True)
class Period(_WithDefault[str]):
    """A NinjaTrader bar period (``1 Minute``, ``2000 Tick``)."""

    def read(self, name: str, text: str | None) -> str:
        value = text or self.default
        if not _PERIOD.fullmatch(value):
            raise ConfigError(
                name,
                f"must be a NinjaTrader bar period such as '1 Minute' or '2000 Tick', "
                f"was {value!r}",
            )
        return value


@dataclass(frozen=True, slots=True)
class Amount(_WithDefault[Decimal]):
    """A non-negative amount of money (``2.09``)."""

    def read(self, name: str, text: str | None) -> Decimal:
        raw = (text or "").strip()
        if not raw:
            return self.default
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ConfigError(name, f"must be an amount such as 2.09, was {raw!r}") from None
        if not value.is_finite() or value < 0:
            raise ConfigError(name, f"must be a non-negative amount, was {raw!r}")
        return value


Capitals = tuple[tuple[str | None, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Capital:
    """``account=amount`` pairs and at most one bare amount (every other account), by commas;
    unset or empty: none."""

    @property
    def shown(self) -> str:
        return ""

    def read(self, name: str, text: str | None) -> Capitals:
        raw = (text or "").strip()
        if not raw:
            return ()
        found: dict[str | None, Decimal] = {}
        for part in raw.split(","):
            account, _, amount_text = part.rpartition("=")
            key = account.strip() or None
            if "=" in part and key is None:
                raise ConfigError(name, f"{part.strip()!r} names no account before '='")
            if key in found:
                what = "the default amount" if key is None else f"account {key!r}"
                raise ConfigError(name, f"gives {what} twice")
            try:
                amount = Decimal(amount_text.strip())
            except InvalidOperation:
                raise ConfigError(
                    name,
                    f"{amount_text.strip()!r} is not an amount (expected e.g. 50000 or "
                    "Sim101=50000)",
                ) from None
            if not amount.is_finite() or amount <= 0:
                raise ConfigError(
                    name, f"{amount_text.strip()!r}: a starting capital must be above 0"
                )
            found[key] = amount
        return tuple(found.items())

    def write(self, value: Capitals) -> str | None:
        return ",".join(
            str(amount) if account is None else f"{account}={amount}" for account, amount in value
        )


@dataclass(frozen=True, slots=True)
class RulesFile:
    """An existing .toml, .yaml or .yml file; unset or empty: None (and left unset)."""

    @property
    def shown(self) -> str:
        return ""

    def read(self, name: str, text: str | None) -> Path | None:
        if not text:
            return None
        path = Path(text).expanduser().resolve()
        if path.suffix not in (".toml", ".yaml", ".yml"):
            raise ConfigError(name, f"must name a .toml, .yaml or .yml file, was {text!r}")
        if not path.is_file():
            raise ConfigError(name, f"names no file: {text!r} (e.g. deploy/alerts/alerts.toml)")
        return path

    def write(self, value: Path | None) -> str | None:
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class OptionalFile:
    """A file's path, made absolute; unset or empty: None (and left unset). Whether it can be
    read is checked by the process that reads it, so the others start without it."""

    @property
    def shown(self) -> str:
        return ""

    def read(self, name: str, text: str | None) -> Path | None:
        return Path(text).expanduser().resolve() if text else None

    def write(self, value: Path | None) -> str | None:
        return None if value is None else str(value)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


@dataclass(frozen=True, slots=True)
class MinutesOrOff:
    """``off``, or a whole number of minutes from 0 to a day (1440)."""

    default: int | None

    @property
    def shown(self) -> str:
        return "off" if self.default is None else str(self.default)

    def read(self, name: str, text: str | None) -> int | None:
        if not text:
            return self.default
        if text.strip().lower() == "off":
            return None
        try:
            minutes = int(text)
        except ValueError:
            raise ConfigError(
                name, f"must be off or a whole number of minutes, was {text!r}"
            ) from None
        if not 0 <= minutes <= 1440:
            raise ConfigError(name, f"must be off or from 0 to 1440 minutes, was {minutes}")
        return minutes

    def write(self, value: int | None) -> str | None:
        return "off" if value is None else str(value)
