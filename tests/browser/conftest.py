"""Headless Chromium (Debian's, driven by Playwright for Python) against live scripted-model servers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from codeloop.settings import Settings
from live import LiveServer, serving


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Chromium is needed: `bash scripts/setup.sh --test` installs Debian's chromium")
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module-scoped: the sync driver holds an event loop on this thread while it is open, so it must be
    # closed before later tests call asyncio.run().
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    # The system browser, never a downloaded one; root (as in CI) needs --no-sandbox.
    browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without API keys; blocks may run 15 s, long enough for output that arrives slowly."""
    data_dir = tmp_path_factory.mktemp("data")
    with serving(Settings(model="scripted", exec_timeout=15, data_dir=data_dir)) as live:
        yield live


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """The playground, loaded and ready, in a fresh context; JavaScript errors fail the test, and so do
    console errors (a Content-Security-Policy violation is one)."""
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert errors == []
