"""Observability against the real tools: every process's ``/metrics`` passes ``promtool check
metrics``; the Prometheus configuration and alerting rules under ``deploy/prometheus`` pass
``promtool`` (their unit tests included); the rules and the Grafana dashboards under
``deploy/grafana`` name only metrics the processes serve, the dashboards' SQL runs on the views
and their PromQL parses on a real Prometheus server, which scrapes the running processes and
evaluates the rules."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import Producer

from core.kafka import producer_config
from core.settings import PROJECT_ROOT, Settings
from tests.fixtures.pipeline import ServiceProcess, post, readiness
from tests.fixtures.services import free_port, wait_for
from tests.integration.test_rebuild import round_trips
from tests.integration.test_walking_skeleton import Pipeline, running, scrape, trade_count

pytestmark = pytest.mark.integration

PROMETHEUS = PROJECT_ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "fillstream.yml"
GRAFANA = PROJECT_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def panel_targets(kind: str) -> list[tuple[str, str]]:
    """(dashboard and panel title, query) of every panel of the data source ``kind``
    (``prometheus``: PromQL; ``postgresql``: SQL)."""
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            if kind in panel["datasource"]["type"]:
                for target in panel["targets"]:
                    query = target["expr"] if kind == "prometheus" else target["rawSql"]
                    found.append((f"{dashboard['title']}: {panel['title']}", query))
    return found


def runnable(statement: str, settings: Settings) -> str:
    """A panel's SQL as PostgreSQL runs it: Grafana's time filter macro expanded, the views
    in the test's namespace."""
    expanded = re.sub(r"\$__timeFilter\((\w+)\)",
                      r"\1 BETWEEN now() - interval '10 years' AND now() + interval '10 years'",
                      statement)  # fmt: skip
    return expanded.replace("fillstream.", f"{settings.namespace}.")


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    yield from running(settings)


def promtool(*args: str, text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], input=text, capture_output=True, text=True, timeout=60, check=False
    )


def flowing(settings: Settings) -> None:
    """Two trades through the whole pipeline, and one record the worker cannot read, so the
    labelled series exist."""
    assert post(settings, round_trips("o", 2))[0] == 202
    producer = Producer(producer_config(settings))
    producer.produce(settings.topic("raw.executions"), key=b"Sim101", value=b"not avro")
    assert producer.flush(10) == 0
    wait_for(lambda: trade_count(settings) == 2, timeout=60, message="no trades projected")


def expressions(rules: Path) -> list[str]:
    """The text of every ``expr`` of a rules file (a YAML block: the key's line and the lines
    indented deeper)."""
    found, at = [], None
    for line in rules.read_text().splitlines():
        indent = len(line) - len(line.lstrip())
        if line.strip().startswith("expr:"):
            found.append(line.strip().removeprefix("expr:"))
            at = indent
        elif at is not None and line.strip() and indent > at:
            found[-1] += " " + line.strip()
        else:
            at = None
    return found


def test_every_process_passes_promtool_and_serves_what_the_rules_name(
    settings: Settings, pipeline: Pipeline
) -> None:
    flowing(settings)
    wait_for(lambda: "fillstream_stream_dead_letters_total{" in scrape(settings.worker_port),
             timeout=30, message="the worker counted no dead letter")  # fmt: skip
    notifier = replace(settings, notify_port=free_port())
    notify = ServiceProcess(notifier, "notify", notifier.notify_port).start()
    served: set[str] = set()
    try:
        for service in [*pipeline.all(), notify]:
            text = scrape(service.health_port)
            checked = promtool("check", "metrics", text=text)
            assert checked.returncode == 0, f"{service.name}: {checked.stdout}{checked.stderr}"
            served |= set(re.findall(r"^# TYPE (\w+) ", text, re.MULTILINE))
    finally:
        notify.stop()
    for service in (pipeline.worker, pipeline.projector):

        def caught_up(port: int = service.health_port) -> bool:
            return readiness(port)[1].get("caught up") is True

        wait_for(caught_up, timeout=30, message=f"{service.name} not caught up")
    # the families this work adds, served by some process
    assert {
        "fillstream_consumer_lag_records",
        "fillstream_trading_net_profit",
        "fillstream_trading_drawdown",
        "fillstream_trading_open_positions",
        "fillstream_projection_rebuild_remaining_records",  # no samples: nothing is rebuilt
        "fillstream_projection_rebuild_updated_timestamp_seconds",
    } <= served
    # the notifier's counter: with no samples yet, its TYPE line names it with _total
    assert served & {"fillstream_alerts_deliveries", "fillstream_alerts_deliveries_total"}
    queries = [*expressions(RULES), *(q for _, q in panel_targets("prometheus"))]
    named = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name in re.findall(r"\b(fillstream_\w+)", " ".join(queries))
    }
    counters = {n.removesuffix("_total") for n in named if n.endswith("_total")}
    missing = named - served - {c + "_total" for c in counters if c in served}
    assert named and not missing, f"rules or dashboards name unserved metrics: {sorted(missing)}"
    # every dashboard's SQL runs on the views, and the trade panels see the two trades
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        for title, statement in panel_targets("postgresql"):
            rows = conn.execute(runnable(statement, settings)).fetchall()
            if "Last trades" in title:
                assert len(rows) == 2, title


def test_the_deployed_configuration_and_rules_pass_promtool() -> None:
    checked = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = yaml.safe_load(RULES.read_text())["groups"]
    assert f"{sum(len(g['rules']) for g in rules)} rules found" in checked.stdout
    tested = promtool("test", "rules", str(PROMETHEUS / "rules" / "fillstream_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_trading_gauges_read_the_projections(settings: Settings, pipeline: Pipeline) -> None:
    flowing(settings)  # two winners: net 1 and 2 points of NQ less costs, no drawdown

    def gauges() -> dict[str, float]:
        found = {}
        for line in scrape(pipeline.projector.health_port).splitlines():
            if line.startswith("fillstream_trading_"):
                name, _, value = line.rpartition(" ")
                found[name] = float(value)
        return found

    account = '{account="Sim101",currency="USD",scope="account",strategy=""}'
    positions = 'fillstream_trading_open_positions{account="Sim101",strategy=""}'

    def both_trades() -> dict[str, float] | None:
        found = gauges()
        done = found.get("fillstream_trading_net_profit" + account, 0) > 50 and positions in found
        return found if done else None

    found = wait_for(both_trades, timeout=60, message="no performance")
    # 20 + 40 USD gross, less 4 commissions of 2.09
    assert found["fillstream_trading_net_profit" + account] == pytest.approx(60 - 4 * 2.09)
    assert found["fillstream_trading_drawdown" + account] == 0
    assert found["fillstream_trading_max_drawdown" + account] == 0
    assert found[positions] == 0  # flat again


def api(port: int, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}", timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def test_a_real_prometheus_scrapes_every_process_and_evaluates_the_rules(
    settings: Settings, pipeline: Pipeline, tmp_path: Path
) -> None:
    port = free_port()
    jobs = {
        "fillstream-bridge": settings.bridge_port,
        "fillstream-worker": settings.worker_port,
        "fillstream-projector": settings.projector_port,
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{p}"]}]}
            for job, p in jobs.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        flowing(settings)

        def all_up() -> bool:
            try:
                targets = api(port, "/api/v1/targets")["activeTargets"]
            except OSError:
                return False  # not listening yet
            return {t["labels"]["job"]: t["health"] for t in targets} == dict.fromkeys(jobs, "up")

        wait_for(all_up, timeout=60, interval=0.5, message="targets not all up")

        def value(expression: str) -> float | None:
            result = api(port, "/api/v1/query", query=expression)["result"]
            return float(result[0]["value"][1]) if result else None

        accepted = 'sum(fillstream_bridge_events_accepted_total{type="execution"})'
        wait_for(lambda: value(accepted) == 4, timeout=30, interval=0.5, message="no executions")
        lag = 'max(fillstream_consumer_lag_records{group=~".*projection[.]trades.*"})'
        wait_for(lambda: value(lag) == 0, timeout=30, interval=0.5, message="no trades lag")
        trading = 'fillstream_trading_net_profit{scope="account", account="Sim101"}'
        wait_for(lambda: (value(trading) or 0) > 50, timeout=30, interval=0.5, message="no PnL")

        def evaluated() -> list[dict[str, Any]] | None:
            (group,) = api(port, "/api/v1/rules")["groups"]
            rules: list[dict[str, Any]] = group["rules"]
            never = [r for r in rules if r.get("lastEvaluation", "").startswith("0001")]
            return None if never else rules

        for _, expression in panel_targets("prometheus"):  # the server parses each
            api(port, "/api/v1/query", query=expression)
        rules = wait_for(evaluated, timeout=30, interval=0.5, message="rules not evaluated")
        written = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
        assert [r["name"] for r in rules] == [r["alert"] for r in written]
        assert {r["health"] for r in rules} == {"ok"}, rules
        assert {r["name"]: r["state"] for r in rules}["FillstreamProcessDown"] == "inactive"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_dashboards_and_their_provisioning_fit_together() -> None:
    sources = (GRAFANA / "provisioning" / "datasources" / "fillstream.yml").read_text()
    uids = set(re.findall(r"^\s+uid: (\S+)$", sources, re.MULTILINE))
    assert uids == {"prometheus", "fillstream-postgresql"}
    assert [p.stem for p in DASHBOARDS] == ["performance", "stream-health", "trades"]
    seen = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in seen and dashboard["title"].startswith("fillstream: ")
        seen.add(dashboard["uid"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
    assert panel_targets("prometheus") and panel_targets("postgresql")
