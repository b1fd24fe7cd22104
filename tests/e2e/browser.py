"""Steps the browser tests share: logging in and drawing on the workspace's viewport."""

import re
from typing import Any

from tests.factories import PASSWORD


def log_in(page: Any, live_server: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page and wait for the project list."""
    from playwright.sync_api import expect

    page.goto(live_server.url + "/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/projects$"))


def canvas_point(page: Any, i: float, j: float) -> tuple[float, float]:
    """Page coordinates of voxel (i, j) on the shown slice (the viewport's own transform)."""
    x, y = page.evaluate("([i, j]) => window.__workspace.toCanvas(i, j)", [i, j])
    box = page.get_by_test_id("viewport").locator("canvas").bounding_box()
    return box["x"] + x, box["y"] + y


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at `start`, move in steps to `end` and release (how a user draws)."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    page.mouse.move(*end, steps=4)
    page.mouse.up()
