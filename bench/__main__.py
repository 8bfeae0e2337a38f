"""``python -m bench [MODULE ...]``: start a private broker, PostgreSQL and the bridge, run
every benchmark (or those of the modules named: ingest, imports, latency, derive, rebuild,
alerts, experiments, dashboard, gate), report."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Sequence

from bench import (
    alerts,
    dashboard,
    derive,
    experiments,
    gate,
    imports,
    ingest,
    latency,
    rebuild,
    report,
)
from core.kafka import ensure_topics
from core.settings import PROJECT_ROOT, Settings
from tests.fixtures.pipeline import ServiceProcess
from tests.fixtures.services import free_ports, local_kafka, local_postgres, temporary_home

DOCS_REPORT = PROJECT_ROOT / "docs" / "benchmarks" / "report.json"
"""The docs' copy of the report, with every benchmark's last result (``report.merge``)."""

MODULES = (
    "ingest",
    "imports",
    "latency",
    "derive",
    "rebuild",
    "alerts",
    "experiments",
    "dashboard",
    "gate",
)


def main(chosen: Sequence[str] = ()) -> int:
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown:
        print(f"no benchmark module {', '.join(unknown)} (known: {', '.join(MODULES)})")
        return 2
    results: list[report.Result] = []
    with (
        temporary_home("fillstream-bench-") as home,
        local_kafka(home) as kafka,
        local_postgres(home) as postgres,
    ):
        (bridge_port,) = free_ports(1)
        settings = Settings.from_env(
            {
                "FILLSTREAM_NAMESPACE": "bench",
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                "DATABASE_URL": postgres.dsn,
                "FILLSTREAM_TOKEN": secrets.token_urlsafe(24),
                "FILLSTREAM_HOME": str(home / "fillstream"),
                "FILLSTREAM_BRIDGE_PORT": str(bridge_port),
                "FILLSTREAM_LOG_LEVEL": "warning",
                "FILLSTREAM_ACCURACY_SCHEDULE": "off",  # no verification amid the measures
            }
        )
        settings.home.mkdir()
        ensure_topics(settings)
        bridge = ServiceProcess(settings, "bridge", bridge_port).start()
        modules: dict[str, Callable[[], list[report.Result]]] = {
            "ingest": lambda: ingest.run(settings),
            "imports": lambda: imports.run(settings, home),
            "latency": lambda: latency.run(settings, postgres),
            "derive": lambda: derive.run(settings),
            "rebuild": lambda: rebuild.run(settings),
            "alerts": lambda: alerts.run(settings),
            "experiments": lambda: experiments.run(settings),
            "dashboard": lambda: dashboard.run(settings),
            "gate": lambda: gate.run(settings, home),
        }
        try:
            for name, run in modules.items():
                if not chosen or name in chosen:
                    results += run()
        finally:
            bridge.stop()
    path = PROJECT_ROOT / ".fillstream" / "bench" / "report.json"
    report.write(results, path)
    report.merge(results, DOCS_REPORT)
    print(report.table(results))
    print(f"\nreport: {path.relative_to(PROJECT_ROOT)}")
    print(
        f"merged into {DOCS_REPORT.relative_to(PROJECT_ROOT)} (the docs' benchmark page): commit it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
