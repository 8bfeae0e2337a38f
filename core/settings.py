"""One frozen ``Settings`` object, built once from the environment and validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PERIOD = re.compile(r"[1-9][0-9]* [A-Z][A-Za-z]*")
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_LOG_LEVELS = ("debug", "info", "warning", "error")


MATCHING_METHODS = ("fifo", "average-cost")
"""The stream worker's lot matching methods (``domain.matching.Matching``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    home: Path
    namespace: str
    kafka_bootstrap_servers: str | None
    kafka_port: int
    kafka_controller_port: int
    database_url: str | None
    pg_port: int
    bridge_host: str
    metrics_host: str = "127.0.0.1"
    """Where the worker's, the projectors' and the notifier's /metrics, /healthz and /readyz
    listen (``0.0.0.0`` in a container, so Prometheus and health checks reach them)."""
    bridge_port: int
    worker_port: int
    projector_port: int
    notify_port: int = 8790
    token: str | None
    log_level: str
    feed_silence_seconds: float = 30.0
    ready_lag_records: int = 1000
    """A worker or projector is ready (``/readyz``) only with no partition further behind."""
    stall_seconds: float = 30.0
    """How long a worker's stage may make no progress while records wait for it before it is
    stalled: not ready, counted, and alerted on (``streams.runtime.stalls``)."""
    health_interval_seconds: int = 30
    """How often each process publishes a health check (``ServiceChecked``) to ``health``."""
    bridge_ack_timeout: float = 5.0
    matching: str = "fifo"
    """Lot matching of the stream worker: ``fifo`` or ``average-cost`` (``streams.Matching``)."""
    rolling_trades: int = 100
    """Size of the rolling performance window: the figures of each scope's last N trades."""
    grace_ms: int = 100
    """How long matching waits for late executions and market context (``domain.context``)."""
    excursion_period: str = "1 Minute"
    """The bar period MAE and MFE are measured on."""
    context_days: int = 7
    """How many days of event time matching keeps market context for."""
    regime: str = ""
    """The regime classifier's parameters, ``FILLSTREAM_REGIME`` (``domain.regimes``:
    ``version=2,atr_period=20``); empty: the defaults, version 1. Validated at start."""
    paper: bool = True
    """Whether the worker paper-trades signals with a stop and a target (``domain.paper``)."""
    paper_slippage_ticks: int = 1
    """Ticks a paper market or stop fill is moved against the trade."""
    paper_commission: Decimal = Decimal("2.09")
    """Commission per contract and side of a paper fill."""
    regime_period: str = "1 Minute"
    """The bar period the regime classifier labels (bars of other periods are passed over)."""
    local_state: bool = True
    """Whether stream stages keep their state on disk too (``streams.runtime.store``), so a restart
    reads only the changelog records written since."""
    alert_rules: Path | None = None
    """The alert rules file (``domain.alerts.rules``); None: no rules, nothing raised."""
    capital: tuple[tuple[str | None, Decimal], ...] = ()
    """Starting capital by account (None: every other account), for drawdowns as a share of
    equity; ``FILLSTREAM_CAPITAL`` as ``50000`` or ``Sim101=100000,APEX-1=50000,25000``."""

    def capital_of(self, account: str) -> Decimal | None:
        """The starting capital of ``account``: its own, else the default, else None."""
        found = dict(self.capital)
        return found.get(account, found.get(None))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("FILLSTREAM_HOME") or PROJECT_ROOT / ".fillstream").resolve()
        namespace = env.get("FILLSTREAM_NAMESPACE", "fillstream")
        if not _NAMESPACE.match(namespace):
            raise ConfigError(
                "FILLSTREAM_NAMESPACE",
                "must be lowercase letters, digits and _, starting with a letter; "
                f"was {namespace!r}",
            )
        log_level = _choice(env, "FILLSTREAM_LOG_LEVEL", _LOG_LEVELS, "info")
        matching = _choice(env, "FILLSTREAM_MATCHING", MATCHING_METHODS, "fifo")
        token = env.get("FILLSTREAM_TOKEN") or _read_token(home)
        if token is not None and len(token) < 16:
            raise ConfigError("FILLSTREAM_TOKEN", "must be at least 16 characters long")
        return cls(
            home=home,
            namespace=namespace,
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            kafka_port=_port(env, "FILLSTREAM_KAFKA_PORT", 19092),
            kafka_controller_port=_port(env, "FILLSTREAM_KAFKA_CONTROLLER_PORT", 19093),
            database_url=env.get("DATABASE_URL") or None,
            pg_port=_port(env, "FILLSTREAM_PG_PORT", 15432),
            bridge_host=env.get("FILLSTREAM_BRIDGE_HOST", "127.0.0.1"),
            metrics_host=_host(env, "FILLSTREAM_METRICS_HOST", "127.0.0.1"),
            bridge_port=_port(env, "FILLSTREAM_BRIDGE_PORT", 8787),
            worker_port=_port(env, "FILLSTREAM_WORKER_PORT", 8788),
            projector_port=_port(env, "FILLSTREAM_PROJECTOR_PORT", 8789),
            notify_port=_port(env, "FILLSTREAM_NOTIFY_PORT", 8790),
            token=token,
            log_level=log_level,
            feed_silence_seconds=_seconds(env, "FILLSTREAM_FEED_SILENCE_SECONDS", 30.0),
            ready_lag_records=_count(
                env, "FILLSTREAM_READY_LAG_RECORDS", 1000, low=0, high=1_000_000_000
            ),
            stall_seconds=_seconds(env, "FILLSTREAM_STALL_SECONDS", 30.0),
            health_interval_seconds=_count(
                env, "FILLSTREAM_HEALTH_INTERVAL_SECONDS", 30, low=1, high=3600
            ),
            bridge_ack_timeout=_seconds(env, "FILLSTREAM_BRIDGE_ACK_TIMEOUT", 5.0),
            matching=matching,
            rolling_trades=_count(env, "FILLSTREAM_ROLLING_TRADES", 100),
            grace_ms=_count(env, "FILLSTREAM_GRACE_MS", 100, low=0, high=60_000),
            excursion_period=_period(env, "FILLSTREAM_EXCURSION_PERIOD", "1 Minute"),
            context_days=_count(env, "FILLSTREAM_CONTEXT_DAYS", 7, high=366),
            regime=_regime(env, "FILLSTREAM_REGIME"),
            regime_period=_period(env, "FILLSTREAM_REGIME_PERIOD", "1 Minute"),
            paper=_choice(env, "FILLSTREAM_PAPER", ("on", "off"), "on") == "on",
            paper_slippage_ticks=_count(
                env, "FILLSTREAM_PAPER_SLIPPAGE_TICKS", 1, low=0, high=1000
            ),
            paper_commission=_amount(env, "FILLSTREAM_PAPER_COMMISSION", Decimal("2.09")),
            capital=_capital(env, "FILLSTREAM_CAPITAL"),
            local_state=_choice(env, "FILLSTREAM_LOCAL_STATE", ("on", "off"), "on") == "on",
            alert_rules=_rules_file(env, "FILLSTREAM_ALERT_RULES"),
        )

    @property
    def local_kafka(self) -> bool:
        """True when no external cluster is configured and fillstream runs its own broker."""
        return self.kafka_bootstrap_servers is None

    @property
    def local_postgres(self) -> bool:
        return self.database_url is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def dsn(self) -> str:
        return self.database_url or f"postgresql://fillstream@127.0.0.1:{self.pg_port}/fillstream"

    @property
    def bridge_url(self) -> str:
        return f"http://{self.bridge_host}:{self.bridge_port}"

    @property
    def token_path(self) -> Path:
        return self.home / "token"

    def topic(self, name: str) -> str:
        """The Kafka topic name for a catalog entry, in this namespace (``raw.executions``)."""
        return f"{self.namespace}.{name}"

    def group(self, name: str) -> str:
        """A consumer group id in this namespace."""
        return f"{self.namespace}.{name}"

    def to_env(self) -> dict[str, str]:
        """The environment variables that rebuild these settings in a child process."""
        env = {
            "FILLSTREAM_HOME": str(self.home),
            "FILLSTREAM_NAMESPACE": self.namespace,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "DATABASE_URL": self.dsn,
            "FILLSTREAM_KAFKA_PORT": str(self.kafka_port),
            "FILLSTREAM_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "FILLSTREAM_PG_PORT": str(self.pg_port),
            "FILLSTREAM_BRIDGE_HOST": self.bridge_host,
            "FILLSTREAM_METRICS_HOST": self.metrics_host,
            "FILLSTREAM_BRIDGE_PORT": str(self.bridge_port),
            "FILLSTREAM_WORKER_PORT": str(self.worker_port),
            "FILLSTREAM_PROJECTOR_PORT": str(self.projector_port),
            "FILLSTREAM_NOTIFY_PORT": str(self.notify_port),
            "FILLSTREAM_LOG_LEVEL": self.log_level,
            "FILLSTREAM_FEED_SILENCE_SECONDS": str(self.feed_silence_seconds),
            "FILLSTREAM_READY_LAG_RECORDS": str(self.ready_lag_records),
            "FILLSTREAM_STALL_SECONDS": str(self.stall_seconds),
            "FILLSTREAM_HEALTH_INTERVAL_SECONDS": str(self.health_interval_seconds),
            "FILLSTREAM_BRIDGE_ACK_TIMEOUT": str(self.bridge_ack_timeout),
            "FILLSTREAM_MATCHING": self.matching,
            "FILLSTREAM_ROLLING_TRADES": str(self.rolling_trades),
            "FILLSTREAM_GRACE_MS": str(self.grace_ms),
            "FILLSTREAM_EXCURSION_PERIOD": self.excursion_period,
            "FILLSTREAM_CONTEXT_DAYS": str(self.context_days),
            "FILLSTREAM_REGIME": self.regime,
            "FILLSTREAM_REGIME_PERIOD": self.regime_period,
            "FILLSTREAM_PAPER": "on" if self.paper else "off",
            "FILLSTREAM_PAPER_SLIPPAGE_TICKS": str(self.paper_slippage_ticks),
            "FILLSTREAM_PAPER_COMMISSION": str(self.paper_commission),
            "FILLSTREAM_LOCAL_STATE": "on" if self.local_state else "off",
            "FILLSTREAM_CAPITAL": ",".join(
                str(amount) if account is None else f"{account}={amount}"
                for account, amount in self.capital
            ),
        }
        if self.token is not None:
            env["FILLSTREAM_TOKEN"] = self.token
        if self.alert_rules is not None:
            env["FILLSTREAM_ALERT_RULES"] = str(self.alert_rules)
        return env

    def require_token(self) -> str:
        if self.token is None:
            raise ConfigError(
                "FILLSTREAM_TOKEN",
                "is not set (export FILLSTREAM_TOKEN=<32 random characters>, "
                "or run `fillstream up`)",
            )
        return self.token


def _rules_file(env: Mapping[str, str], name: str) -> Path | None:
    """An existing .toml, .yaml or .yml file, or None when unset."""
    value = env.get(name)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(name, f"must name a .toml, .yaml or .yml file, was {value!r}")
    if not path.is_file():
        raise ConfigError(name, f"names no file: {value!r} (e.g. deploy/alerts/alerts.toml)")
    return path


def _host(env: Mapping[str, str], name: str, default: str) -> str:
    """An address to bind: an IPv4 or IPv6 address, or a host name."""
    value = env.get(name) or default
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value):
            raise ConfigError(
                name, f"must be an address to bind such as 127.0.0.1 or 0.0.0.0, was {value!r}"
            ) from None
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a port number, was {raw!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(name, f"must be between 1 and 65535, was {port}")
    return port


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, default).lower()
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, was {value!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number of seconds, was {raw!r}") from None
    if not 0 < seconds <= 86400:
        raise ConfigError(name, f"must be between 0 and 86400 seconds, was {raw}")
    return seconds


def _count(
    env: Mapping[str, str], name: str, default: int, *, low: int = 1, high: int = 100_000
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        count = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, was {raw!r}") from None
    if not low <= count <= high:
        raise ConfigError(name, f"must be between {low} and {high}, was {count}")
    return count


def _period(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not _PERIOD.fullmatch(value):
        raise ConfigError(
            name,
            f"must be a NinjaTrader bar period such as '1 Minute' or '2000 Tick', was {value!r}",
        )
    return value


def _capital(env: Mapping[str, str], name: str) -> tuple[tuple[str | None, Decimal], ...]:
    """``account=amount`` pairs and at most one bare amount (every other account), by commas."""
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    found: dict[str | None, Decimal] = {}
    for part in raw.split(","):
        account, _, text = part.rpartition("=")
        key = account.strip() or None
        if "=" in part and key is None:
            raise ConfigError(name, f"{part.strip()!r} names no account before '='")
        if key in found:
            what = "the default amount" if key is None else f"account {key!r}"
            raise ConfigError(name, f"gives {what} twice")
        try:
            amount = Decimal(text.strip())
        except InvalidOperation:
            raise ConfigError(
                name, f"{text.strip()!r} is not an amount (expected e.g. 50000 or Sim101=50000)"
            ) from None
        if not amount.is_finite() or amount <= 0:
            raise ConfigError(name, f"{text.strip()!r}: a starting capital must be above 0")
        found[key] = amount
    return tuple(found.items())


def _read_token(home: Path) -> str | None:
    try:
        return (home / "token").read_text().strip() or None
    except FileNotFoundError:
        return None


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _regime(env: Mapping[str, str], name: str) -> str:
    """The classifiers' parameters, checked now (``domain.regimes.parse_classifiers``)."""
    from domain.regimes import parse_classifiers  # the domain module; imported late: no cycle

    text = env.get(name, "").strip()
    parse_classifiers(text)
    return text


def _amount(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    """A non-negative amount of money (``2.09``)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(name, f"must be an amount such as 2.09, was {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(name, f"must be a non-negative amount, was {raw!r}")
    return value
