"""``fillstream dashboard``: the dashboard's login URL, with the token (as Jupyter prints its
own). Opened once, it sets an HttpOnly cookie and drops the token from the address bar.

  fillstream dashboard           the URL, and whether the read API answers
  fillstream dashboard --url     the URL alone, for scripts
  fillstream dashboard --open    open it in the browser too
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
import webbrowser
from urllib.parse import quote

from core.settings import Settings

_ANSWER_SECONDS = 3


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", action="store_true", help="print only the login URL")
    parser.add_argument("--open", action="store_true", help="open it in the web browser")
    return parser


def login_url(settings: Settings) -> str:
    return f"{settings.api_url}/login?token={quote(settings.require_token(), safe='')}"


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    url = login_url(settings)
    if args.url:
        print(url)
        return 0
    print(f"dashboard: {url}")
    if not _answers(settings):
        print(
            f"fillstream dashboard: the read API does not answer at {settings.api_url}: "
            "start it with `fillstream up`",
            file=sys.stderr,
        )
        return 1
    if args.open:
        webbrowser.open(url)
    return 0


def _answers(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.api_url}/healthz", timeout=_ANSWER_SECONDS):
            return True
    except (urllib.error.URLError, OSError):
        return False
