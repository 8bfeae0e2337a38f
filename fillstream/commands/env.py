"""``fillstream env``: shell exports that point psql, kcat, curl or a notebook at the stack."""

from __future__ import annotations

import argparse
import shlex
import sys

from core.settings import Settings


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream env",
        description='Print shell exports for the running stack; use as `eval "$(fillstream env)"`.',
    )
    return parser


def main(argv: list[str]) -> int:
    parser().parse_args(argv)
    settings = Settings.from_env()
    exports = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "DATABASE_URL": settings.dsn,
        "FILLSTREAM_BRIDGE_URL": settings.bridge_url,
        "FILLSTREAM_API_URL": settings.api_url,
        # psql and libpq clients then find the views without a schema prefix
        "PGOPTIONS": f"-c search_path={settings.namespace},public",
    }
    if settings.token is not None:
        exports["FILLSTREAM_TOKEN"] = settings.token
    else:
        print("fillstream env: no token yet (run `fillstream up`)", file=sys.stderr)
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0
