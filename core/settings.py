"""One frozen ``Settings`` object, built once from the environment and validated at start.

Every setting is one row of ``SETTINGS``: its ``Settings`` attribute, its environment variable,
its type (``core.setting_types``: how it is read, checked and written back, and its default),
its doc, and whether a phase may change it. ``Settings.from_env`` and ``Settings.to_env``, the
phase settings (``PHASE_SETTINGS``) and the configuration reference are made from the rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.setting_types import (
    Amount,
    Capital,
    Choice,
    Count,
    Folder,
    Host,
    MinutesOrOff,
    Namespace,
    OptionalFile,
    OptionalText,
    Period,
    Port,
    RulesFile,
    Seconds,
    SettingType,
    Switch,
    Text,
    Token,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

MATCHING_METHODS = ("fifo", "average-cost")
"""The stream worker's lot matching methods (``domain.matching.Matching``)."""

_LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """One setting: the ``Settings`` attribute ``field``, read from the variable ``env``."""

    field: str
    env: str
    type: SettingType[Any]
    doc: str
    """One paragraph for the configuration reference."""
    phase: bool = False
    """Whether a phase may change it (``fillstream phase start``): the derivations' settings."""
    shown: str | None = None
    """The default as the reference shows it, when the type's own would not do."""

    @property
    def default(self) -> str:
        """The default as the reference shows it; "" when there is none (``doc`` says what
        then)."""
        return self.type.shown if self.shown is None else self.shown


SETTINGS: tuple[Setting, ...] = (
    # where the services are
    Setting(
        field="kafka_bootstrap_servers",
        env="KAFKA_BOOTSTRAP_SERVERS",
        type=OptionalText(),
        doc="A Kafka cluster to use; nothing is started. Unset: `fillstream up` runs a local "
        "broker (`FILLSTREAM_KAFKA_PORT`).",
    ),
    Setting(
        field="database_url",
        env="DATABASE_URL",
        type=OptionalText(),
        doc="A PostgreSQL to use (`postgresql://user:pass@host:5432/db`); nothing is started. "
        "Unset: `fillstream up` runs a local cluster (`FILLSTREAM_PG_PORT`).",
    ),
    Setting(
        field="home",
        env="FILLSTREAM_HOME",
        type=Folder(PROJECT_ROOT / ".fillstream"),
        shown="<project>/.fillstream",
        doc="The state folder: the local broker's and database's data, the logs, the pid files, "
        "the token and the stream stages' local state.",
    ),
    Setting(
        field="namespace",
        env="FILLSTREAM_NAMESPACE",
        type=Namespace("fillstream"),
        doc="Prefix of the topics and consumer groups, and the PostgreSQL schema name: "
        "lowercase letters, digits and `_`, starting with a letter, at most 40 characters.",
    ),
    Setting(
        field="token",
        env="FILLSTREAM_TOKEN",
        type=Token(),
        doc="The bearer token the bridge requires, at least 16 characters. Unset: the contents "
        "of `$FILLSTREAM_HOME/token`, which `fillstream up` writes.",
    ),
    Setting(
        field="kafka_port",
        env="FILLSTREAM_KAFKA_PORT",
        type=Port(19092),
        doc="The local broker's client port.",
    ),
    Setting(
        field="kafka_controller_port",
        env="FILLSTREAM_KAFKA_CONTROLLER_PORT",
        type=Port(19093),
        doc="The local broker's KRaft controller port.",
    ),
    Setting(
        field="pg_port",
        env="FILLSTREAM_PG_PORT",
        type=Port(15432),
        doc="The local PostgreSQL's port.",
    ),
    Setting(
        field="bridge_host",
        env="FILLSTREAM_BRIDGE_HOST",
        type=Host("127.0.0.1"),
        doc="The address the bridge binds: an IP address or a host name. Plain HTTP only on "
        "loopback (`127.0.0.1`, `::1`, `localhost`); any other address (`0.0.0.0`, a LAN "
        "address) needs `FILLSTREAM_BRIDGE_TLS_CERT` and `FILLSTREAM_BRIDGE_TLS_KEY`, or the "
        "bridge refuses to start "
        "([NinjaTrader on another machine](../guides/remote-ninjatrader.md)).",
    ),
    Setting(
        field="bridge_tls_cert",
        env="FILLSTREAM_BRIDGE_TLS_CERT",
        type=OptionalFile(),
        doc="The bridge's TLS certificate (PEM, the chain after it if any); with "
        "`FILLSTREAM_BRIDGE_TLS_KEY`, the bridge serves HTTPS only. `fillstream certs` makes a "
        "self-signed pair and prints the pin the AddOn checks it by. Unset: plain HTTP.",
    ),
    Setting(
        field="bridge_tls_key",
        env="FILLSTREAM_BRIDGE_TLS_KEY",
        type=OptionalFile(),
        doc="The private key of `FILLSTREAM_BRIDGE_TLS_CERT` (PEM, unencrypted; keep it mode 600).",
    ),
    Setting(
        field="bridge_insecure_bind",
        env="FILLSTREAM_BRIDGE_INSECURE_BIND",
        type=Switch(False),
        doc="`on` lets the bridge serve plain HTTP on an address other than loopback, for "
        "where something else keeps the port private: in the compose file the container binds "
        "`0.0.0.0` and Docker publishes the port on the host's `127.0.0.1` only. Never on a "
        "network NinjaTrader reaches: use TLS there.",
    ),
    Setting(
        field="bridge_port",
        env="FILLSTREAM_BRIDGE_PORT",
        type=Port(8787),
        doc="The bridge's port.",
    ),
    Setting(
        field="worker_port",
        env="FILLSTREAM_WORKER_PORT",
        type=Port(8788),
        doc="The stream worker's `/metrics`, `/healthz` and `/readyz`.",
    ),
    Setting(
        field="projector_port",
        env="FILLSTREAM_PROJECTOR_PORT",
        type=Port(8789),
        doc="The projector's `/metrics`, `/healthz` and `/readyz`.",
    ),
    Setting(
        field="notify_port",
        env="FILLSTREAM_NOTIFY_PORT",
        type=Port(8790),
        doc="The notifier's `/metrics`, `/healthz` and `/readyz`, and the live alert feed "
        "`/alerts/feed`.",
    ),
    Setting(
        field="api_port",
        env="FILLSTREAM_API_PORT",
        type=Port(8791),
        doc="The read API (`fillstream api`): the projections' views as JSON under `/api/`, "
        "its OpenAPI document at `/api/openapi.json`, and its `/metrics`, `/healthz` and "
        "`/readyz`; on 127.0.0.1.",
    ),
    Setting(
        field="api_host",
        env="FILLSTREAM_API_HOST",
        type=Host("127.0.0.1"),
        doc="The address the read API binds. Loopback only, unless "
        "`FILLSTREAM_API_INSECURE_BIND` is `on` (it serves plain HTTP).",
    ),
    Setting(
        field="api_insecure_bind",
        env="FILLSTREAM_API_INSECURE_BIND",
        type=Switch(False),
        doc="`on` lets the read API serve plain HTTP on an address other than loopback, where "
        "something else keeps the port private: in the compose file the container binds "
        "`0.0.0.0` and Docker publishes the port on the host's `127.0.0.1` only.",
    ),
    Setting(
        field="web_dir",
        env="FILLSTREAM_WEB_DIR",
        type=OptionalFile(),
        doc="The built dashboard the read API serves (`index.html` and `assets/`). Unset: the "
        "project's `web/dist`, which `make setup` builds.",
    ),
    Setting(
        field="metrics_host",
        env="FILLSTREAM_METRICS_HOST",
        type=Host("127.0.0.1"),
        doc="The address the worker's, the projectors' and the notifier's `/metrics`, `/healthz` "
        "and `/readyz` bind: an IP address or a host name. `0.0.0.0` in a container, so "
        "Prometheus and the health checks reach them (the bridge binds "
        "`FILLSTREAM_BRIDGE_HOST`).",
    ),
    # how the services run
    Setting(
        field="log_level",
        env="FILLSTREAM_LOG_LEVEL",
        type=Choice("info", _LOG_LEVELS),
        doc="`debug`, `info`, `warning` or `error`.",
    ),
    Setting(
        field="bridge_ack_timeout",
        env="FILLSTREAM_BRIDGE_ACK_TIMEOUT",
        type=Seconds(5.0),
        doc="Seconds the bridge waits for Kafka's acknowledgement before it spools a batch.",
    ),
    Setting(
        field="gate_rules",
        env="FILLSTREAM_GATE_RULES",
        type=RulesFile(),
        doc="The pre-trade gate's rules and sizing (`.toml`, `.yaml` or `.yml`; "
        "`domain.gate.rules`, checked by `fillstream gate check FILE`); it must exist. The bridge "
        "reads it at start and logs each new version on `control.gate`. Unset: no rules, every "
        "entry allowed at the strategy's own quantity (decisions are still recorded).",
    ),
    Setting(
        field="gate_timeout",
        env="FILLSTREAM_GATE_TIMEOUT",
        type=Seconds(2.0),
        doc="Seconds a decision (`POST /v1/decisions`) waits for Kafka to store it before the "
        "bridge answers 503 and forgets it; the NinjaScript `Decide` then applies its failure "
        "policy.",
    ),
    Setting(
        field="feed_silence_seconds",
        env="FILLSTREAM_FEED_SILENCE_SECONDS",
        type=Seconds(30.0),
        doc="A NinjaTrader connection without a heartbeat for longer is reported silent.",
    ),
    Setting(
        field="ready_lag_records",
        env="FILLSTREAM_READY_LAG_RECORDS",
        type=Count(1000, low=0, high=1_000_000_000),
        doc="A worker, projector or notifier is ready (`/readyz`) only with no partition it "
        "reads further behind (`fillstream_consumer_lag_records`); otherwise it reports "
        '`"caught up": false` (503).',
    ),
    Setting(
        field="stall_seconds",
        env="FILLSTREAM_STALL_SECONDS",
        type=Seconds(30.0),
        doc="How long a worker's stage may make no progress while records wait for it before "
        "it is stalled: `/readyz` fails `stage NAME progressing` (503), "
        "`fillstream_stream_stalled{stage}` is 1, and the `stage_stall` alert rule sees it "
        "(`streams.runtime.stalls`).",
    ),
    Setting(
        field="health_interval_seconds",
        env="FILLSTREAM_HEALTH_INTERVAL_SECONDS",
        type=Count(30, low=1, high=3600),
        doc="How often the bridge, the worker, the projectors and the notifier publish a health "
        "check (`ServiceChecked`) to the `health` topic, in whole seconds.",
    ),
    Setting(
        field="imported_trades",
        env="FILLSTREAM_IMPORTED_TRADES",
        type=Switch(True),
        doc="`on` or `off`: whether the worker runs the imported-trades stages, which make the "
        "trades of NinjaTrader's Trades exports (`fillstream import trades`) count like derived "
        "ones (`streams.stages.imported`).",
    ),
    Setting(
        field="accuracy_schedule",
        env="FILLSTREAM_ACCURACY_SCHEDULE",
        type=MinutesOrOff(60),
        doc="When the projectors run the nightly data-accuracy job (`control.accuracy`: each "
        "projection verified against a fresh rebuild, and the imported trades reconciled, each "
        "share recorded for the `accuracy` alert rule): this many minutes after each trading "
        "day's session ends (17:00 Chicago), once per day whatever the number of projector "
        "processes, and at a start if the last one was missed; `off` runs none.",
    ),
    # the derivations: a phase may change these
    Setting(
        field="matching",
        env="FILLSTREAM_MATCHING",
        type=Choice("fifo", MATCHING_METHODS),
        phase=True,
        doc="The stream worker's lot matching: `fifo` (NinjaTrader's pairing) or "
        "`average-cost` (`domain.matching.Matching`); changing it changes the derived trades, "
        "so rebuild them from the log.",
    ),
    Setting(
        field="grace_ms",
        env="FILLSTREAM_GRACE_MS",
        type=Count(100, low=0, high=60_000),
        phase=True,
        doc="How long (milliseconds) matching holds an execution for earlier ones still in "
        "flight, and waits for market context ingested up to as late (`domain.context`); 0 "
        "applies executions as they arrive.",
    ),
    Setting(
        field="drift_grace_ms",
        env="FILLSTREAM_DRIFT_GRACE_MS",
        type=Count(5000, low=0, high=3_600_000),
        phase=True,
        doc="How long (milliseconds) NinjaTrader's reported position and the derived one may "
        "disagree, with no further change on either side, before the reconciliation stage "
        "publishes a `PositionDrift` (and, once they agree again for as long, its resolution).",
    ),
    Setting(
        field="context_days",
        env="FILLSTREAM_CONTEXT_DAYS",
        type=Count(7, high=366),
        phase=True,
        doc="How many days of event time matching keeps market context for: trades held longer "
        "get no MAE and MFE.",
    ),
    Setting(
        field="correction_window_hours",
        env="FILLSTREAM_CORRECTION_WINDOW_HOURS",
        type=Count(168, low=0, high=24 * 366),
        doc="How many hours of event time an execution can still be corrected or busted "
        "(`ExecutionCorrected`, `ExecutionBusted`): matching keeps each position's executions "
        "that long to re-derive its trades (`domain.corrections`); a correction of an older "
        "one goes to the dead-letter topic (`uncorrectable`). 0: none can be.",
    ),
    Setting(
        field="excursion_period",
        env="FILLSTREAM_EXCURSION_PERIOD",
        type=Period("1 Minute"),
        phase=True,
        doc="The bar period (`raw.market`) MAE, MFE and open positions' marks are taken from, in "
        "NinjaTrader's terms (`5 Minute`, `2000 Tick`).",
    ),
    Setting(
        field="rolling_trades",
        env="FILLSTREAM_ROLLING_TRADES",
        type=Count(100),
        phase=True,
        doc="The size of the rolling performance window (`last_trades`): the figures of each "
        "scope's last N trades.",
    ),
    Setting(
        field="capital",
        env="FILLSTREAM_CAPITAL",
        type=Capital(),
        phase=True,
        doc="Starting capital by account, for drawdowns as a share of equity "
        "(`max_drawdown_pct`): one amount for every account (`50000`), amounts by account "
        "(`Sim101=100000,APEX-1=50000`), or both (`Sim101=100000,25000`: 25,000 for the "
        "others); every scope of an account uses the account's. Unset, the percentage is null. "
        "The worker reads it at start; each window's next snapshot then uses it over the "
        "window's whole history, while snapshots already published keep theirs until the "
        "performance stage is replayed.",
    ),
    Setting(
        field="regime",
        env="FILLSTREAM_REGIME",
        type=Text("", strip=True),
        phase=True,
        doc="The regime classifiers (`domain.regimes`), separated by `;`, each with its own "
        "version (each labels every bar); a classifier's parameters as `name=value` pairs, "
        "comma-separated: `version`, `atr_period` (14), `volatility_window` (100), "
        "`vol_low_enter` (25), `vol_low_exit` (45), `vol_high_enter` (75), `vol_high_exit` "
        "(55), `trend_window` (50), `trend_enter` (0.35), `trend_exit` (0.25); e.g. "
        "`version=2,atr_period=20`. Bump `version` whenever a parameter changes: labels name "
        "it. Empty: the defaults, version 1. Checked when the worker starts (and by "
        "`fillstream up` and `fillstream phase start`).",
    ),
    Setting(
        field="regime_period",
        env="FILLSTREAM_REGIME_PERIOD",
        type=Period("1 Minute"),
        phase=True,
        doc="The bar period the regime classifier labels; bars of other periods are passed over.",
    ),
    # the worker's other settings
    Setting(
        field="paper",
        env="FILLSTREAM_PAPER",
        type=Switch(True),
        doc="`on` or `off`: whether the worker paper-trades signals with a stop and a target "
        "(`domain.paper`).",
    ),
    Setting(
        field="paper_slippage_ticks",
        env="FILLSTREAM_PAPER_SLIPPAGE_TICKS",
        type=Count(1, low=0, high=1000),
        doc="Ticks a paper market entry or stop exit is moved against the trade.",
    ),
    Setting(
        field="paper_commission",
        env="FILLSTREAM_PAPER_COMMISSION",
        type=Amount(Decimal("2.09")),
        doc="Commission per contract and side of a paper fill, in the contract's currency.",
    ),
    Setting(
        field="local_state",
        env="FILLSTREAM_LOCAL_STATE",
        type=Switch(True),
        doc="Whether the stream stages keep their state on disk too (`FILLSTREAM_HOME/state`, "
        "SQLite; `streams.runtime.store`), so a restart reads only the changelog records "
        "written since; `off` reads the whole changelogs on every assignment.",
    ),
    Setting(
        field="alert_rules",
        env="FILLSTREAM_ALERT_RULES",
        type=RulesFile(),
        doc="The alert rules file (`.toml`, `.yaml` or `.yml`; `domain.alerts.rules`); it must "
        "exist. Unset: no rules, nothing raised, no channels.",
    ),
)
"""Every setting, in the order the configuration reference lists them."""

PHASE_SETTINGS = tuple(s.env for s in SETTINGS if s.phase)
"""The variables a phase may change: those of the derivations."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The settings, one attribute per row of ``SETTINGS`` (which documents each)."""

    home: Path
    namespace: str
    kafka_bootstrap_servers: str | None
    kafka_port: int
    kafka_controller_port: int
    database_url: str | None
    pg_port: int
    bridge_host: str
    bridge_tls_cert: Path | None
    bridge_tls_key: Path | None
    bridge_insecure_bind: bool
    metrics_host: str
    bridge_port: int
    worker_port: int
    projector_port: int
    notify_port: int
    api_port: int
    api_host: str
    api_insecure_bind: bool
    web_dir: Path | None
    token: str | None
    log_level: str
    feed_silence_seconds: float
    ready_lag_records: int
    stall_seconds: float
    health_interval_seconds: int
    imported_trades: bool
    accuracy_schedule: int | None
    bridge_ack_timeout: float
    gate_rules: Path | None
    gate_timeout: float
    matching: str
    rolling_trades: int
    grace_ms: int
    drift_grace_ms: int
    excursion_period: str
    context_days: int
    correction_window_hours: int
    regime: str
    paper: bool
    paper_slippage_ticks: int
    paper_commission: Decimal
    regime_period: str
    local_state: bool
    alert_rules: Path | None
    capital: tuple[tuple[str | None, Decimal], ...]

    def capital_of(self, account: str) -> Decimal | None:
        """The starting capital of ``account``: its own, else the default, else None."""
        found = dict(self.capital)
        return found.get(account, found.get(None))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {s.field: s.type.read(s.env, env.get(s.env)) for s in SETTINGS}
        if values["token"] is None:  # the one `fillstream up` wrote, held to the same rule
            values["token"] = Token().read("FILLSTREAM_TOKEN", _read_token(values["home"]))
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that rebuild these settings in a child process."""
        env = {s.env: s.type.write(getattr(self, s.field)) for s in SETTINGS}
        return {name: text for name, text in env.items() if text is not None}

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
    def api_url(self) -> str:
        """Where this machine reaches the read API (loopback when it binds every address)."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.api_port}"

    @property
    def bridge_url(self) -> str:
        scheme = "http" if self.bridge_tls_cert is None else "https"
        return f"{scheme}://{self.bridge_host}:{self.bridge_port}"

    @property
    def token_path(self) -> Path:
        return self.home / "token"

    def topic(self, name: str) -> str:
        """The Kafka topic name for a catalog entry, in this namespace (``raw.executions``)."""
        return f"{self.namespace}.{name}"

    def group(self, name: str) -> str:
        """A consumer group id in this namespace."""
        return f"{self.namespace}.{name}"

    def require_token(self) -> str:
        if self.token is None:
            raise ConfigError(
                "FILLSTREAM_TOKEN",
                "is not set (export FILLSTREAM_TOKEN=<32 random characters>, "
                "or run `fillstream up`)",
            )
        return self.token


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
