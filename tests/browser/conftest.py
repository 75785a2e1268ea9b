"""Real Chromium for the stewards' admin: one browser for the browser tests, a page per test.

Playwright drives Debian's chromium (/usr/bin/chromium) and never downloads a browser of its
own. Pages talk to pytest-django's `live_server`, which serves the test database, so a test
builds its data through the service layer, clicks, then reads the outcome from the database.

Playwright's sync API marks an asyncio loop as running in the main thread between calls.
Django refuses ORM calls under a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set, and
`asyncio.run()` refuses to start at all. So the browser lives exactly as long as this package's
tests (package scope, not session): the later tests of the suite, some of which use
`asyncio.run()`, never see the loop or the variable.
"""

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import require_service

CHROMIUM = Path("/usr/bin/chromium")
# Offline, Chromium stalls on refused connections (sync, component updates) without these.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    require_service(CHROMIUM.exists(), "Chromium (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as patch:
        # Only the test thread runs under Playwright's loop; the live server has its own thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, with short timeouts."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def log_in(page: Page) -> Callable[[User], Page]:
    """Log a persona in through the admin's login form; returns the page on the admin index."""

    def log_in_as(user: User) -> Page:
        # A fresh password per login, known only to this test and never printed.
        password = secrets.token_urlsafe(16)
        user.set_password(password)
        user.save(update_fields=["password"])
        page.goto("/admin/login/?next=/admin/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        return page

    return log_in_as
