"""A real browser uses the rendered app's API docs, served by `python -m secure_api`.

Debian's Chromium, driven by Playwright (Playwright's own browser download is not used).
Checks what the generated suite cannot: that Swagger UI and ReDoc run under the docs CSP,
that the OAuth2 password flow works from the "Authorize" dialog, and that the pages never
load anything from another host. Installing the render needs the package index (or a pip
cache); the test itself needs no network.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live_app import FAST_HASHING, served
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tooling.served import LOOPBACK

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# CI installs it; a missing browser must fail these tests, never skip them silently.
CHROMIUM_MISSING = f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium)"
# Per browser step (navigation, click, wait for text), in milliseconds.
STEP_TIMEOUT_MS = 20_000
ADMIN_USERNAME = "browser-admin"


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    docs_username: str
    docs_password: str
    admin_password: str


# `expect` waits this long too, instead of its 5 s default.
expect.set_options(timeout=STEP_TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), CHROMIUM_MISSING
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served_app(
    tmp_path_factory: pytest.TempPathFactory, default_render_python: Path
) -> Iterator[ServedApp]:
    """The default render, served by `python -m secure_api` on a free loopback port."""
    workdir = tmp_path_factory.mktemp("browser")
    docs_password, admin_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    settings = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'browser.db'}",
        "DOCS_USERNAME": "docs",
        "DOCS_PASSWORD": docs_password,
        "FIRST_ADMIN_USERNAME": ADMIN_USERNAME,
        "FIRST_ADMIN_EMAIL": "browser-admin@example.com",
        "FIRST_ADMIN_PASSWORD": admin_password,
        **FAST_HASHING,
    }
    with served(default_render_python, workdir, settings) as base_url:
        yield ServedApp(base_url, "docs", docs_password, admin_password)


class PageWatch:
    """What a page asked for and what its CSP refused, recorded as it happens."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.csp_blocked: list[str] = []
        self.csp_messages: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "requestfailed",
            lambda request: (
                self.csp_blocked.append(request.url) if request.failure == "csp" else None
            ),
        )
        page.on(
            "console",
            lambda message: (
                self.csp_messages.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def off_loopback(self) -> list[str]:
        """Requests for anything but this machine's app (data: and blob: never leave it)."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname != LOOPBACK
        ]


def docs_context(browser: Browser, app: ServedApp) -> BrowserContext:
    context = browser.new_context(
        http_credentials={"username": app.docs_username, "password": app.docs_password}
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


def test_debian_chromium_is_installed() -> None:
    assert CHROMIUM.exists(), CHROMIUM_MISSING


def test_swagger_ui_authorizes_with_the_password_flow_and_calls_users_me(
    browser: Browser, served_app: ServedApp
) -> None:
    context = docs_context(browser, served_app)
    try:
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(f"{served_app.base_url}/docs")

        page.locator(".auth-wrapper button.authorize").click()
        dialog = page.locator(".modal-ux")
        password_flow = dialog.locator(
            ".auth-container", has=page.locator("h4", has_text="OAuth2, password")
        )
        password_flow.locator("#oauth_username").fill(ADMIN_USERNAME)
        password_flow.locator("#oauth_password").fill(served_app.admin_password)
        password_flow.locator("button.authorize").click()
        # Swagger UI says "Authorized" once the token endpoint has answered with a token.
        expect(password_flow.get_by_role("heading", name="Authorized")).to_be_visible()
        dialog.locator("button.btn-done").first.click()
        expect(dialog).to_be_hidden()

        operation = page.locator(".opblock-get", has=page.locator('[data-path="/api/v1/users/me"]'))
        operation.locator(".opblock-summary-control").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("button.execute").click()
        live = operation.locator(".live-responses-table .response").first
        expect(live.locator(".response-col_status")).to_have_text("200")
        expect(live.locator(".response-col_description")).to_contain_text(
            f'"username": "{ADMIN_USERNAME}"'
        )
    finally:
        context.close()
    assert not watch.csp_messages, watch.csp_messages
    assert not watch.off_loopback(), watch.off_loopback()
    assert f"{served_app.base_url}/api/v1/auth/token" in watch.requests


def test_redoc_renders_and_searches_under_the_docs_csp(
    browser: Browser, served_app: ServedApp
) -> None:
    context = docs_context(browser, served_app)
    try:
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(f"{served_app.base_url}/redoc")
        expect(page.locator(".api-info h1")).to_contain_text("Secure API")
        # The search index runs in a blob: worker; results prove the CSP lets it start.
        page.get_by_placeholder("Search...").fill("items")
        expect(page.locator("[data-role='search:results']")).to_contain_text("Create Item")
    finally:
        context.close()
    # ReDoc's "API docs by Redocly" logo is the one outside reference; the CSP refuses it.
    assert set(watch.off_loopback()) <= set(watch.csp_blocked), watch.off_loopback()
    unexpected = [text for text in watch.csp_messages if "cdn.redoc.ly" not in text]
    assert not unexpected, unexpected
