"""The ``fillstream`` console script: a root that dispatches to one module per subcommand.

Each subcommand module lives in the package that owns it and exposes ``main(argv) -> int``.
"""

from __future__ import annotations

import faulthandler
import importlib
import sys

from fillstream.errors import ConfigError, FillstreamError

COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("deploy.cmd_up", "start the local stack (Kafka, PostgreSQL, bridge, worker, projector)"),
    "down": ("deploy.cmd_down", "stop the local stack"),
    "status": ("deploy.cmd_status", "show broker, database, services, topics and consumer lag"),
    "offsets": ("deploy.cmd_offsets", "show consumer groups' offsets, end offsets and lag"),
    "env": ("deploy.cmd_env", "print shell exports to connect psql, kcat, curl or a notebook"),
    "logs": ("deploy.cmd_logs", "show the services' logs"),
    "topics": ("schemas.cmd_topics", "create the catalog's topics (idempotent) or list them"),
    "bridge": ("bridge.cmd_bridge", "run the ingest HTTP server in the foreground"),
    "import": ("bridge.cmd_import", "import NinjaTrader 8 Executions or Trades grid exports"),
    "worker": (
        "streams.cmd_worker",
        "run the stream worker (matching, performance) in the foreground",
    ),
    "project": ("projections.cmd_project", "run the projectors in the foreground"),
    "notify": ("alerts.cmd_notify", "deliver alerts to their channels in the foreground"),
    "alerts": ("alerts.cmd_alerts", "check the rules file, list alerts, set or end silences"),
    "projections": (
        "projections.cmd_projections",
        "list, rebuild (blue/green), switch, drop or archive projections",
    ),
    "regimes": (
        "projections.cmd_regimes",
        "market regimes: versions, current labels, which serves",
    ),
    "experiments": (
        "streams.cmd_experiments",
        "A/B experiments: create, list, show (arms and statistics), pause, promote, roll back",
    ),
    "phase": ("projections.cmd_phase", "start, list or roll back phases (control topic)"),
    "backup": ("deploy.cmd_backup", "dump the projections (PostgreSQL) to a file"),
    "restore": ("deploy.cmd_restore", "restore a dump; the projectors then catch up with the log"),
    "verify": ("fillstream.cmd_verify", "rebuild a projection aside and diff it with the live one"),
    "migrate": ("projections.cmd_migrate", "apply the PostgreSQL migrations (idempotent)"),
    "demo": ("fillstream.cmd_demo", "feed a generated trading session through the bridge"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: fillstream COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `fillstream COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"fillstream: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest))
    except ConfigError as e:
        print(f"fillstream {name}: configuration error: {e}", file=sys.stderr)
        return 2
    except FillstreamError as e:
        print(f"fillstream {name}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> None:
    # a crash in native code (librdkafka, psycopg) leaves the Python stacks in the process's log
    faulthandler.enable()
    sys.exit(main())
