"""Browser end-to-end fixtures: Debian's Chromium driven by Playwright's sync API.

The browser is the system package (`apt-get install chromium`), never a Playwright download.
Without it, or without the built frontend, the tests skip; with E2E_REQUIRED=1 they fail.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FRONTEND_INDEX = Path(__file__).resolve().parents[2] / "frontend" / "dist" / "index.html"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL2 through SwiftShader (no GPU): Cornerstone3D renders slices and labelmaps with it.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    """Skip, or fail when the run says the browser tests must run (E2E_REQUIRED=1)."""
    if os.environ.get("E2E_REQUIRED") == "1":
        pytest.fail(f"E2E_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module."""
    if not CHROMIUM.exists():
        _unavailable(
            f"{CHROMIUM} is missing (install it: apt-get update && apt-get install -y chromium)"
        )
    if not FRONTEND_INDEX.is_file():
        _unavailable(
            f"{FRONTEND_INDEX} is missing (build it: cd frontend && npm ci && npm run build)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    # Playwright's sync API keeps an asyncio loop on this thread; Django's ORM refuses to run
    # "in an async context" unless told it is safe. Scoped to this module's browser lifetime.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()


@dataclass
class BrowserErrors:
    """Console errors and uncaught page errors seen during one test.

    Failed HTTP requests show up as console errors ("Failed to load resource: … 400"); a test
    that expects one says so with `allow_response(url_part, status)`.
    """

    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[str, int]] = field(default_factory=list)

    def allow_response(self, url_part: str, status: int) -> None:
        self.allowed.append((url_part, status))

    def on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        status = re.search(r"status of (\d{3})", message.text)
        if status and any(
            part in url and int(status.group(1)) == code for part, code in self.allowed
        ):
            return
        self.problems.append(f"console error: {message.text} (at {url or 'unknown'})")

    def on_page_error(self, error: Any) -> None:
        self.problems.append(f"page error: {error}")


@pytest.fixture
def browser_errors() -> BrowserErrors:
    errors = BrowserErrors()
    # The app asks "who am I?" on start; logged out, the answer is a 401 by contract.
    errors.allow_response("/api/v1/auth/me/", 401)
    return errors


@pytest.fixture
def page(browser: Any, live_server: Any, browser_errors: BrowserErrors) -> Iterator[Any]:
    """A fresh browser context and page; the test fails on any console or page error."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.on("console", browser_errors.on_console)
    tab.on("pageerror", browser_errors.on_page_error)
    try:
        yield tab
    finally:
        context.close()
    if browser_errors.problems:
        pytest.fail(
            "The browser reported errors:\n" + "\n".join(browser_errors.problems), pytrace=False
        )
