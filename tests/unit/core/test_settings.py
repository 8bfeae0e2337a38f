from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import MATCHING_METHODS, Settings


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"FILLSTREAM_HOME": str(tmp_path), **env})


def test_defaults_run_everything_locally(tmp_path: Path) -> None:
    s = settings(tmp_path)

    assert s.home == tmp_path.resolve()
    assert s.namespace == "fillstream"
    assert s.local_kafka and s.local_postgres
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.dsn == "postgresql://fillstream@127.0.0.1:15432/fillstream"
    assert s.bridge_url == "http://127.0.0.1:8787"
    assert (s.worker_port, s.projector_port) == (8788, 8789)
    assert s.token is None
    assert s.log_level == "info"
    assert s.topic("raw.executions") == "fillstream.raw.executions"
    assert s.group("worker") == "fillstream.worker"


def test_external_services_replace_the_local_ones(tmp_path: Path) -> None:
    s = settings(
        tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092", DATABASE_URL="postgresql://db/fillstream"
    )

    assert not s.local_kafka and not s.local_postgres
    assert s.bootstrap_servers == "kafka:9092"
    assert s.dsn == "postgresql://db/fillstream"


def test_ports_come_from_the_environment(tmp_path: Path) -> None:
    s = settings(tmp_path, FILLSTREAM_KAFKA_PORT="29092", FILLSTREAM_PG_PORT="25432")

    assert s.bootstrap_servers == "127.0.0.1:29092"
    assert s.dsn.endswith(":25432/fillstream")


@pytest.mark.parametrize("raw", ["abc", "80.5", "0", "65536", "-1"])
def test_a_bad_port_names_the_setting(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_BRIDGE_PORT=raw)

    assert caught.value.setting == "FILLSTREAM_BRIDGE_PORT"
    assert str(caught.value).startswith("FILLSTREAM_BRIDGE_PORT ")
    assert raw.lstrip("-") in str(caught.value)


@pytest.mark.parametrize("namespace", ["", "Upper", "1st", "has-dash", "has.dot", "x" * 41])
def test_a_bad_namespace_is_rejected(tmp_path: Path, namespace: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_NAMESPACE=namespace)

    assert caught.value.setting == "FILLSTREAM_NAMESPACE"
    assert repr(namespace) in str(caught.value)


def test_a_short_token_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_TOKEN="too-short")

    assert caught.value.setting == "FILLSTREAM_TOKEN"
    assert "16 characters" in str(caught.value)


def test_the_token_is_read_from_home_when_not_in_the_environment(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("a" * 32 + "\n")

    assert settings(tmp_path).token == "a" * 32
    assert settings(tmp_path, FILLSTREAM_TOKEN="b" * 20).token == "b" * 20


def test_require_token_explains_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fillstream up"):
        settings(tmp_path).require_token()


def test_a_bad_log_level_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_LOG_LEVEL="verbose")

    assert caught.value.setting == "FILLSTREAM_LOG_LEVEL"


def test_matching_is_fifo_unless_average_cost_is_chosen(tmp_path: Path) -> None:
    from domain.matching import Matching

    assert settings(tmp_path).matching == "fifo"
    chosen = settings(tmp_path, FILLSTREAM_MATCHING="Average-Cost")
    assert Matching(chosen.matching) is Matching.AVERAGE_COST
    assert Settings.from_env(chosen.to_env()).matching == "average-cost"  # reaches the worker
    assert set(MATCHING_METHODS) == {m.value for m in Matching}
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_MATCHING="lifo")
    assert caught.value.setting == "FILLSTREAM_MATCHING"
    assert "fifo, average-cost" in str(caught.value)


@pytest.mark.parametrize(("raw", "reason"), [("ten", "whole number"), ("0", "between 1")])
def test_the_rolling_window_is_a_positive_count(tmp_path: Path, raw: str, reason: str) -> None:
    assert settings(tmp_path).rolling_trades == 100
    chosen = settings(tmp_path, FILLSTREAM_ROLLING_TRADES="20")
    assert Settings.from_env(chosen.to_env()).rolling_trades == 20  # reaches the worker
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_ROLLING_TRADES=raw)
    assert caught.value.setting == "FILLSTREAM_ROLLING_TRADES"
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("FILLSTREAM_PAPER", "yes", "must be one of on, off"),
        ("FILLSTREAM_PAPER_SLIPPAGE_TICKS", "-1", "between 0 and 1000"),
        ("FILLSTREAM_PAPER_COMMISSION", "two", "must be an amount"),
        ("FILLSTREAM_PAPER_COMMISSION", "-1", "non-negative"),
        ("FILLSTREAM_PAPER_COMMISSION", "NaN", "non-negative"),
    ],
)
def test_paper_settings(tmp_path: Path, name: str, raw: str, reason: str) -> None:
    default = settings(tmp_path)
    assert (default.paper, default.paper_slippage_ticks, default.paper_commission) == (
        True, 1, Decimal("2.09")
    )  # fmt: skip
    chosen = settings(tmp_path, FILLSTREAM_PAPER="off", FILLSTREAM_PAPER_SLIPPAGE_TICKS="0",
                      FILLSTREAM_PAPER_COMMISSION="0.85")  # fmt: skip
    again = Settings.from_env(chosen.to_env())  # reaches the worker
    assert (again.paper, again.paper_slippage_ticks, again.paper_commission) == (
        False, 0, Decimal("0.85")
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, **{name: raw})
    assert caught.value.setting == name
    assert reason in str(caught.value)


def test_regime_settings(tmp_path: Path) -> None:
    default = settings(tmp_path)
    assert (default.regime, default.regime_period) == ("", "1 Minute")
    chosen = settings(
        tmp_path, FILLSTREAM_REGIME="version=2,atr_period=20", FILLSTREAM_REGIME_PERIOD="5 Minute"
    )
    again = Settings.from_env(chosen.to_env())  # reaches the worker
    assert (again.regime, again.regime_period) == ("version=2,atr_period=20", "5 Minute")
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_REGIME_PERIOD="5min")
    assert caught.value.setting == "FILLSTREAM_REGIME_PERIOD"
    assert "bar period" in str(caught.value)


def test_the_regime_classifiers_are_the_workers_to_check(tmp_path: Path) -> None:
    """core knows no classifier: FILLSTREAM_REGIME is taken as text (blanks trimmed), and the
    worker, ``fillstream up`` and ``fillstream phase start`` refuse a bad one."""
    assert settings(tmp_path, FILLSTREAM_REGIME=" version=0 ").regime == "version=0"


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("FILLSTREAM_GRACE_MS", "-1", "between 0 and 60000"),
        ("FILLSTREAM_GRACE_MS", "0.5", "whole number"),
        ("FILLSTREAM_CONTEXT_DAYS", "0", "between 1 and 366"),
        ("FILLSTREAM_EXCURSION_PERIOD", "1minute", "bar period"),
        ("FILLSTREAM_EXCURSION_PERIOD", "0 Minute", "bar period"),
    ],
)
def test_market_context_settings(tmp_path: Path, name: str, raw: str, reason: str) -> None:
    default = settings(tmp_path)
    assert (default.grace_ms, default.excursion_period, default.context_days) == (
        100,
        "1 Minute",
        7,
    )
    chosen = settings(
        tmp_path,
        FILLSTREAM_GRACE_MS="0",
        FILLSTREAM_EXCURSION_PERIOD="2000 Tick",
        FILLSTREAM_CONTEXT_DAYS="30",
    )
    again = Settings.from_env(chosen.to_env())  # reaches the worker
    assert (again.grace_ms, again.excursion_period, again.context_days) == (0, "2000 Tick", 30)
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, **{name: raw})
    assert caught.value.setting == name
    assert reason in str(caught.value)


def test_starting_capital_by_account_with_a_default(tmp_path: Path) -> None:
    assert settings(tmp_path).capital_of("Sim101") is None
    one = settings(tmp_path, FILLSTREAM_CAPITAL="50000")
    assert one.capital_of("Sim101") == one.capital_of("APEX-1") == Decimal(50000)
    chosen = settings(tmp_path, FILLSTREAM_CAPITAL=" Sim101=100000.50 , APEX-1=25000")
    assert chosen.capital_of("Sim101") == Decimal("100000.50")
    assert chosen.capital_of("Other") is None
    again = Settings.from_env(chosen.to_env())  # reaches the worker
    assert again.capital == chosen.capital
    mixed = settings(tmp_path, FILLSTREAM_CAPITAL="Sim101=100000,25000")
    assert (mixed.capital_of("Sim101"), mixed.capital_of("Other")) == (
        Decimal(100000),
        Decimal(25000),
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("fifty", "'fifty' is not an amount"),
        ("Sim101=0", "above 0"),
        ("-5", "above 0"),
        ("=5", "names no account"),
        ("Sim101=5,Sim101=6", "account 'Sim101' twice"),
        ("5,6", "default amount twice"),
        ("NaN", "above 0"),
    ],
)
def test_a_bad_starting_capital_is_named(tmp_path: Path, raw: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_CAPITAL=raw)
    assert caught.value.setting == "FILLSTREAM_CAPITAL"
    assert reason in str(caught.value)


def test_the_local_state_store_is_on_unless_turned_off(tmp_path: Path) -> None:
    assert settings(tmp_path).local_state is True
    off = settings(tmp_path, FILLSTREAM_LOCAL_STATE="OFF")
    assert off.local_state is False
    assert Settings.from_env(off.to_env()).local_state is False  # reaches the worker
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_LOCAL_STATE="maybe")
    assert caught.value.setting == "FILLSTREAM_LOCAL_STATE"
    assert "on, off" in str(caught.value)


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    from deploy.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]  # ~60 would start with '-' if unguarded
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(("raw", "reason"), [("many", "whole number"), ("-1", "between 0")])
def test_the_readiness_lag_bound_is_a_count(tmp_path: Path, raw: str, reason: str) -> None:
    assert settings(tmp_path).ready_lag_records == 1000
    chosen = settings(tmp_path, FILLSTREAM_READY_LAG_RECORDS="0")
    assert Settings.from_env(chosen.to_env()).ready_lag_records == 0  # reaches the services
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_READY_LAG_RECORDS=raw)
    assert caught.value.setting == "FILLSTREAM_READY_LAG_RECORDS"
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.1.2.3", "fillstream-worker", "metrics.internal"]
)
def test_the_metrics_host_is_localhost_unless_chosen(tmp_path: Path, host: str) -> None:
    assert settings(tmp_path).metrics_host == "127.0.0.1"
    chosen = settings(tmp_path, FILLSTREAM_METRICS_HOST=host)
    assert chosen.metrics_host == host
    assert Settings.from_env(chosen.to_env()).metrics_host == host  # reaches the services


@pytest.mark.parametrize("raw", ["0.0.0.0:8788", "http://0.0.0.0", "-bad", "two words", "a_b"])
def test_a_bad_metrics_host_is_named(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_METRICS_HOST=raw)
    assert caught.value.setting == "FILLSTREAM_METRICS_HOST"
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("often", "whole number"), ("0", "between 1 and 3600"), ("2.5", "whole number"),
     ("3601", "between 1 and 3600")],
)  # fmt: skip
def test_the_health_interval_is_whole_seconds(tmp_path: Path, raw: str, reason: str) -> None:
    assert settings(tmp_path).health_interval_seconds == 30
    chosen = settings(tmp_path, FILLSTREAM_HEALTH_INTERVAL_SECONDS="1")  # tests check quickly
    assert Settings.from_env(chosen.to_env()).health_interval_seconds == 1  # reaches the services
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, FILLSTREAM_HEALTH_INTERVAL_SECONDS=raw)
    assert caught.value.setting == "FILLSTREAM_HEALTH_INTERVAL_SECONDS"
    assert reason in str(caught.value)
