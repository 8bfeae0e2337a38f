"""``make screenshots``: the README's pictures of the dashboard's three panels, taken in
Debian's Chromium from the running local stack (`make run` first: the demo session)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

IMAGES = Path(__file__).parent / "images"
PANELS = {"trades": "Trades", "performance": "Performance", "monitor": "Monitor"}


def main() -> int:
    url = subprocess.run(
        [sys.executable, "-m", "fillstream", "dashboard", "--url"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    IMAGES.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
        page.goto(url)
        page.get_by_test_id("live").filter(has_text="live").wait_for()
        for panel, tab in PANELS.items():
            page.get_by_role("tab", name=tab).click()
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # the charts' first frame
            path = IMAGES / f"dashboard-{panel}.png"
            page.screenshot(path=path)
            print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
