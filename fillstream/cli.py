"""The ``fillstream`` console script: a root that dispatches to one module per subcommand.

Each subcommand is a module of ``fillstream.commands`` exposing ``parser()`` and
``main(argv) -> int``; the packages below the shell know nothing of the command line.
"""

from __future__ import annotations

import faulthandler
import importlib
import sys

from core.errors import ConfigError, FillstreamError

COMMANDS: dict[str, tuple[str, str]] = {
    "up": (
        "fillstream.commands.up",
        "start the local stack (Kafka, PostgreSQL, bridge, worker, projector)",
    ),
    "down": ("fillstream.commands.down", "stop the local stack"),
    "status": (
        "fillstream.commands.status",
        "show broker, database, services, topics and consumer lag",
    ),
    "offsets": (
        "fillstream.commands.offsets",
        "show consumer groups' offsets, end offsets and lag",
    ),
    "env": (
        "fillstream.commands.env",
        "print shell exports to connect psql, kcat, curl or a notebook",
    ),
    "logs": ("fillstream.commands.logs", "show the services' logs"),
    "topics": (
        "fillstream.commands.topics",
        "create the catalog's topics (idempotent) or list them",
    ),
    "bridge": ("fillstream.commands.bridge", "run the ingest HTTP server in the foreground"),
    "certs": (
        "fillstream.commands.certs",
        "make a self-signed TLS pair for the bridge and print the AddOn's pin",
    ),
    "import": (
        "fillstream.commands.imports",
        "import NinjaTrader 8 Executions or Trades grid exports",
    ),
    "instruments": (
        "fillstream.commands.instruments",
        "contract specifications: list, show or add a root (raw.instruments)",
    ),
    "worker": (
        "fillstream.commands.worker",
        "run the stream worker (matching, performance) in the foreground",
    ),
    "project": ("fillstream.commands.project", "run the projectors in the foreground"),
    "notify": ("fillstream.commands.notify", "deliver alerts to their channels in the foreground"),
    "api": ("fillstream.commands.api", "serve the read API (the views as JSON) in the foreground"),
    "dashboard": ("fillstream.commands.dashboard", "print the dashboard's login URL"),
    "alerts": (
        "fillstream.commands.alerts",
        "check the rules file, list alerts, set or end silences",
    ),
    "projections": (
        "fillstream.commands.projections",
        "list, rebuild (blue/green), switch, drop or archive projections",
    ),
    "regimes": (
        "fillstream.commands.regimes",
        "market regimes: versions, current labels, which serves",
    ),
    "corrections": (
        "fillstream.commands.corrections",
        "trades corrected by amended or removed executions, and how their P&L changed",
    ),
    "gate": (
        "fillstream.commands.gate",
        "the pre-trade gate: check its rules file, halt or resume a scope, show the halts",
    ),
    "baseline": (
        "fillstream.commands.baseline",
        "freeze a period's figures under a name; list and show baselines",
    ),
    "report": (
        "fillstream.commands.report",
        "performance against a frozen baseline, as HTML, Markdown or JSON",
    ),
    "experiments": (
        "fillstream.commands.experiments",
        "A/B experiments: create, list, show (arms and statistics), pause, promote, roll back",
    ),
    "phase": ("fillstream.commands.phase", "start, list or roll back phases (control topic)"),
    "backup": ("fillstream.commands.backup", "dump the projections (PostgreSQL) to a file"),
    "restore": (
        "fillstream.commands.restore",
        "restore a dump; the projectors then catch up with the log",
    ),
    "verify": (
        "fillstream.commands.verify",
        "rebuild a projection aside and diff it with the live one",
    ),
    "migrate": ("fillstream.commands.migrate", "apply the PostgreSQL migrations (idempotent)"),
    "demo": ("fillstream.commands.demo", "feed a generated trading session through the bridge"),
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
