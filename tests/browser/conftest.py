"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright (nothing
downloaded), against the real stack and read API of the test. Screenshots go to
``.fillstream/artifacts/dashboard/`` (``FILLSTREAM_ARTIFACTS`` names another folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from api.server import WEB_DIR
from core.settings import PROJECT_ROOT
from tests.integration.test_api import stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless, with no traffic of its own (the machine's network is closed)."""
__all__ = ["stack"]  # the real stack and the read API, as the API's own tests run them
AXE = PROJECT_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("FILLSTREAM_ARTIFACTS", PROJECT_ROOT / ".fillstream" / "artifacts"))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    assert (WEB_DIR / "index.html").is_file(), "the dashboard is not built: run make setup"
    assert AXE.is_file(), "axe-core is not installed: run make setup (npm ci in web/)"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Chromium"), version.stdout
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


def artifact(name: str) -> Path:
    folder = ARTIFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
