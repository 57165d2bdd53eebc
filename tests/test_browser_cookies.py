"""Browser sessions in real Chromium: a front end on another port keeps its session in the
API's HttpOnly cookies, and a page of another site can neither read nor change anything.

The rendered app serves the API on http://localhost:B with CORS_ORIGINS=http://localhost:A.
A front-end page from http://localhost:A (another origin, the same site) logs in with
`fetch(..., {credentials: "include"})`, reads, writes with the CSRF header, refreshes and
logs out. A hostile page from http://127.0.0.1:C (another site) then tries a credentialed
cross-site fetch and auto-submitted form and fetch POSTs in the same browser. Everything
happens in one module-scoped run (`browser_run`); each test checks one part of its record.

A second run (`subdomain_run`) gives the hosts names of one site, api.example.test,
app.example.test and evil.example.test, all resolved to loopback by Chromium itself
(`--host-resolver-rules`): the front end on app logs in to api, then pages on app and
evil call their own servers, which must never receive a session cookie.
"""

import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import pytest
from live_app import FAST_HASHING, served
from playwright.sync_api import Browser, BrowserContext, Cookie, Page, sync_playwright
from test_browser import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MISSING, STEP_TIMEOUT_MS

from tooling.served import LOOPBACK, free_port

USERNAME = "cookie-admin"
API = "/api/v1"
LOOPBACK_HOSTS = frozenset({"localhost", LOOPBACK})
TOKEN_COOKIES = ("access_token", "refresh_token")
CSRF_COOKIE = "csrf_token"
# Where page A lives: under the refresh cookie's path, so that `document.cookie` there would
# list the access and refresh cookies too (cookies are shared by every port of a host and
# picked by path) if they were not HttpOnly.
FRONT_END_PATH = f"{API}/auth/cookie/front-end.html"
WIRE_POLL_MS = 50
# Chromium's reasons for withholding a SameSite=Strict cookie from a cross-site request.
SAME_SITE_STRICT = frozenset({"SameSiteStrict", "SchemefulSameSiteStrict"})
FIRST_TITLE, SECOND_TITLE = "made in a browser", "made after a refresh"
SITE = "example.test"
API_HOST, FRONT_HOST, SIBLING_HOST = f"api.{SITE}", f"app.{SITE}", f"evil.{SITE}"
SESSION_COOKIES = (*TOKEN_COOKIES, CSRF_COOKIE)
# Where the sibling hosts' pages call their own servers: under both token cookies' paths,
# so only a Domain attribute could keep a leaked cookie from coming along.
COLLECT_PATH = f"{API}/auth/cookie/collect"

# Both pages' script: one credentialed fetch, reported to the test as the page saw it.
CALL_SCRIPT = """
async function call(url, {method = "GET", headers = {}, form, json, text, mode = "cors"}) {
  let body;
  if (form) body = new URLSearchParams(form);
  if (json) {
    body = JSON.stringify(json);
    headers = {...headers, "Content-Type": "application/json"};
  }
  if (text) body = text;
  try {
    const response = await fetch(url, {method, headers, body, mode, credentials: "include"});
    return {status: response.status, type: response.type, body: await response.text()};
  } catch (error) {
    return {error: String(error)};
  }
}
"""
FRONT_END_PAGE = f"<!doctype html><title>front end</title><script>{CALL_SCRIPT}</script>"
HOSTILE_PAGE = f"<!doctype html><title>another site</title><script>{CALL_SCRIPT}</script>"
# A form POST needs no script on the target's side and no CORS: the classic CSRF. Its
# text/plain body is the JSON an item would be made from, were the session's cookie sent.
HOSTILE_FORM_PAGE = """<!doctype html><title>another site</title><body><script>
const form = document.createElement("form");
form.method = "post";
form.enctype = "text/plain";
form.action = new URLSearchParams(location.search).get("target");
const field = document.createElement("input");
field.name = '{"title": "forged by a form", "x": "';
field.value = '"}';
form.append(field);
document.body.append(form);
form.submit();
</script></body>"""


@dataclass(frozen=True)
class Exchange:
    """One fetch of a page's script, as the script saw it."""

    status: int | None = None
    type: str | None = None
    body: str = ""
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WireRequest:
    """A request as Chromium's network stack handled it, whatever CORS let the page read:
    the API's status, and which cookies the browser sent or withheld (and why)."""

    method: str = ""
    url: str = ""
    kind: str = ""
    status: int | None = None
    cookies_sent: list[str] = field(default_factory=list)
    cookies_withheld: dict[str, list[str]] = field(default_factory=dict)
    # Why the browser kept the answer from the page: a CORS error or a blocked reason.
    refused: str | None = None


class Wire:
    """A page's requests as the DevTools protocol reports them. Playwright reports no
    response for a fetch that CORS refused, nor the cookies a request went without."""

    def __init__(self, page: Page) -> None:
        self._page = page
        self.requests: dict[str, WireRequest] = defaultdict(WireRequest)
        session = page.context.new_cdp_session(page)
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.requestWillBeSentExtraInfo", self._cookies)
        session.on("Network.responseReceivedExtraInfo", self._answered)
        session.on("Network.loadingFailed", self._refused)
        session.send("Network.enable")

    def _sent(self, event: dict[str, Any]) -> None:
        request = self.requests[event["requestId"]]
        request.method, request.url = event["request"]["method"], event["request"]["url"]
        request.kind = event.get("type", "")

    def _cookies(self, event: dict[str, Any]) -> None:
        request = self.requests[event["requestId"]]
        for associated in event.get("associatedCookies", []):
            name, reasons = associated["cookie"]["name"], associated["blockedReasons"]
            if reasons:
                request.cookies_withheld[name] = reasons
            else:
                request.cookies_sent.append(name)

    def _answered(self, event: dict[str, Any]) -> None:
        self.requests[event["requestId"]].status = event["statusCode"]

    def _refused(self, event: dict[str, Any]) -> None:
        cors_error = event.get("corsErrorStatus", {}).get("corsError")
        self.requests[event["requestId"]].refused = cors_error or event.get("blockedReason")

    def wait_for(self, method: str, url: str, kind: str) -> WireRequest:
        """The answered request; the protocol's events may trail the page's own."""
        for _ in range(STEP_TIMEOUT_MS // WIRE_POLL_MS):
            for request in self.requests.values():
                wanted = (request.method, request.url, request.kind) == (method, url, kind)
                if wanted and request.status is not None:
                    return request
            self._page.wait_for_timeout(WIRE_POLL_MS)
        raise AssertionError(f"no answer to {kind} {method} {url}: {self.requests}")


@dataclass
class BrowserRun:
    """What happened in the browser, in order, for the tests to check."""

    front: dict[str, Exchange] = field(default_factory=dict)
    hostile: dict[str, Exchange] = field(default_factory=dict)
    # The hostile page's requests as the browser sent them and the API answered them.
    hostile_wire: dict[str, WireRequest] = field(default_factory=dict)
    # `document.cookie` on page A, and the browser's own cookie jar, after each step.
    document_cookies: dict[str, str] = field(default_factory=dict)
    # Out of the repr: the jars hold the tokens, which no test output may show.
    jars: dict[str, dict[str, Cookie]] = field(default_factory=dict, repr=False)
    requested: list[str] = field(default_factory=list)


class _Pages(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]] = {}
    # The names of the cookies each request to COLLECT_PATH came with; never their values.
    heard: ClassVar[list[list[str]]] = []

    def do_GET(self) -> None:
        if urlsplit(self.path).path == COLLECT_PATH:
            self.heard.append(list(SimpleCookie(self.headers.get("Cookie", ""))))
        page = self.pages.get(urlsplit(self.path).path)
        status = HTTPStatus.OK if page is not None else HTTPStatus.NOT_FOUND
        content = (page or "").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reports what matters."""


@dataclass(frozen=True)
class StaticSite:
    port: int

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}"


def _serve_pages(
    pages: dict[str, str], heard: list[list[str]] | None = None
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    handler = type("Pages", (_Pages,), {"pages": pages, "heard": [] if heard is None else heard})
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def static_sites() -> Iterator[tuple[StaticSite, StaticSite]]:
    """Page A's server and the hostile page's server, each on a free loopback port."""
    servers = [
        _serve_pages({FRONT_END_PATH: FRONT_END_PAGE}),
        _serve_pages({"/": HOSTILE_PAGE, "/form.html": HOSTILE_FORM_PAGE}),
    ]
    try:
        front, hostile = (StaticSite(server.server_address[1]) for server, _ in servers)
        yield front, hostile
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.fixture(scope="module")
def guarded_browser() -> Iterator[Browser]:
    """Debian's Chromium, sending whatever is not loopback to a proxy port nobody listens
    on. Chromium never proxies loopback, so the pages and the API are reached directly
    and nothing else is reached at all. (A Playwright route would guard too, but with one
    in place Playwright answers CORS preflights itself, allowing any origin.) The names
    of example.test go direct as well, and Chromium itself resolves them to loopback."""
    assert CHROMIUM.exists(), CHROMIUM_MISSING
    guards = [
        f"--proxy-server=http://{LOOPBACK}:{free_port()}",
        f"--proxy-bypass-list=*.{SITE}",
        f"--host-resolver-rules=MAP *.{SITE} {LOOPBACK}",
    ]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *guards], timeout=60_000
        )
        yield launched
        launched.close()


def _api_settings(
    workdir: Path, password: str, *, allowed_hosts: str, front_end: str
) -> dict[str, str]:
    """The default render's settings, open to the front end's origin."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'cookies.db'}",
        "DOCS_PASSWORD": secrets.token_urlsafe(24),
        "FIRST_ADMIN_USERNAME": USERNAME,
        "FIRST_ADMIN_EMAIL": "cookie-admin@example.com",
        "FIRST_ADMIN_PASSWORD": password,
        "ALLOWED_HOSTS": allowed_hosts,
        "CORS_ORIGINS": front_end,
        **FAST_HASHING,
    }


@pytest.fixture(scope="module")
def api_url(
    tmp_path_factory: pytest.TempPathFactory,
    default_render_python: Path,
    static_sites: tuple[StaticSite, StaticSite],
) -> Iterator[tuple[str, str]]:
    """The default render on http://localhost:B, open to page A's origin; URL and password."""
    front, _ = static_sites
    workdir = tmp_path_factory.mktemp("browser-cookies")
    password = secrets.token_urlsafe(24)
    settings = _api_settings(
        workdir, password, allowed_hosts="localhost,127.0.0.1", front_end=front.url("localhost")
    )
    with served(default_render_python, workdir, settings) as url:
        yield f"http://localhost:{urlsplit(url).port}", password


def _call(page: Page, url: str, **init: Any) -> Exchange:
    return Exchange(**page.evaluate("([url, init]) => call(url, init)", [url, init]))


def _jar(context: BrowserContext) -> dict[str, Cookie]:
    return {cookie["name"]: cookie for cookie in context.cookies() if "name" in cookie}


def _run_front_end(page: Page, api: str, password: str, run: BrowserRun) -> None:
    """Page A's session: log in, read, write, refresh, write; the CSRF token from bodies."""
    context = page.context

    def step(name: str, path: str, **init: Any) -> Exchange:
        run.front[name] = exchange = _call(page, api + path, **init)
        run.document_cookies[name] = page.evaluate("document.cookie")
        run.jars[name] = _jar(context)
        return exchange

    login = step(
        "login",
        f"{API}/auth/cookie/login",
        method="POST",
        form={"username": USERNAME, "password": password},
    )
    assert login.status == HTTPStatus.OK, login
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    step("me", f"{API}/users/me")
    step("create", f"{API}/items", method="POST", headers=csrf, json={"title": FIRST_TITLE})
    refresh = step("refresh", f"{API}/auth/cookie/refresh", method="POST", headers=csrf)
    if refresh.status == HTTPStatus.OK:
        csrf = {"X-CSRF-Token": refresh.json()["csrf_token"]}
    step(
        "create_after_refresh",
        f"{API}/items",
        method="POST",
        headers=csrf,
        json={"title": SECOND_TITLE},
    )


def _run_hostile_site(page: Page, api: str, run: BrowserRun) -> None:
    """Another site's page, in the same browser, turns the session's cookies against it."""
    wire = Wire(page)
    run.hostile["read"] = _call(page, f"{api}{API}/users/me")
    # A "simple" request: no preflight asks the API first; the page wants no answer.
    run.hostile["fetch_post"] = _call(
        page,
        f"{api}{API}/items",
        method="POST",
        mode="no-cors",
        headers={"Content-Type": "text/plain"},
        text=json.dumps({"title": "forged by a fetch"}),
    )
    origin = f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}"
    page.goto(f"{origin}/form.html?target={quote(f'{api}{API}/items', safe='')}")
    page.wait_for_url(f"{api}{API}/items")
    run.hostile_wire = {
        "read": wire.wait_for("GET", f"{api}{API}/users/me", "Fetch"),
        "fetch_post": wire.wait_for("POST", f"{api}{API}/items", "Fetch"),
        "form_post": wire.wait_for("POST", f"{api}{API}/items", "Document"),
    }


@pytest.fixture(scope="module")
def browser_run(
    guarded_browser: Browser,
    static_sites: tuple[StaticSite, StaticSite],
    api_url: tuple[str, str],
) -> BrowserRun:
    api, password = api_url
    front_site, hostile_site = static_sites
    run = BrowserRun()
    context = guarded_browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.on("request", lambda request: run.requested.append(request.url))
    try:
        front = context.new_page()
        front.goto(front_site.url("localhost") + FRONT_END_PATH)
        _run_front_end(front, api, password, run)

        hostile = context.new_page()
        hostile.goto(hostile_site.url(LOOPBACK) + "/")
        _run_hostile_site(hostile, api, run)

        run.front["items_afterwards"] = _call(front, f"{api}{API}/items")
        csrf = front.evaluate("document.cookie").removeprefix(f"{CSRF_COOKIE}=")
        run.front["logout"] = _call(
            front, f"{api}{API}/auth/cookie/logout", method="POST", headers={"X-CSRF-Token": csrf}
        )
        run.front["me_after_logout"] = _call(front, f"{api}{API}/users/me")
        run.document_cookies["logout"] = front.evaluate("document.cookie")
        run.jars["logout"] = _jar(context)
    finally:
        context.close()
    return run


def test_front_end_on_another_port_logs_in_reads_writes_and_refreshes(
    browser_run: BrowserRun,
) -> None:
    steps = {name: exchange.status for name, exchange in browser_run.front.items()}
    assert steps == {
        "login": 200,
        "me": 200,
        "create": 201,
        "refresh": 200,
        "create_after_refresh": 201,
        "items_afterwards": 200,
        "logout": 204,
        "me_after_logout": 401,
    }, browser_run.front
    login, refresh = browser_run.front["login"].json(), browser_run.front["refresh"].json()
    for answer in (login, refresh):
        assert set(answer) == {"token_type", "expires_in", "scope", "csrf_token"}
        assert answer["token_type"] == "cookie"  # noqa: S105 - a kind, not a secret
    assert browser_run.front["me"].json()["username"] == USERNAME
    assert browser_run.front["create"].json()["title"] == FIRST_TITLE


def test_session_cookies_are_http_only_strict_and_scoped_to_their_paths(
    browser_run: BrowserRun,
) -> None:
    jar = browser_run.jars["login"]
    attributes = {
        name: (cookie.get("httpOnly"), cookie.get("sameSite"), cookie.get("path"))
        for name, cookie in jar.items()
    }
    assert attributes == {
        "access_token": (True, "Strict", API),
        "refresh_token": (True, "Strict", f"{API}/auth/cookie"),
        CSRF_COOKIE: (False, "Strict", "/"),
    }
    # Development: not Secure, so a front end on http://localhost works.
    assert not any(cookie.get("secure") for cookie in jar.values())


def test_page_script_never_sees_a_token(browser_run: BrowserRun) -> None:
    tokens = {
        browser_run.jars[step][name]["value"]
        for step in ("login", "refresh")
        for name in TOKEN_COOKIES
    }
    assert all(tokens)
    answers = {**browser_run.front, **browser_run.hostile}
    leaks = [
        name
        for name, exchange in answers.items()
        if "eyJ" in exchange.body or any(token in exchange.body for token in tokens)
    ]
    assert leaks == []
    # The CSRF token is all a script can read, on page A's own origin as on the API's.
    for step, body_step in (("login", "login"), ("me", "login"), ("refresh", "refresh")):
        csrf_token = browser_run.front[body_step].json()["csrf_token"]
        assert browser_run.document_cookies[step] == f"{CSRF_COOKIE}={csrf_token}"


def test_refresh_rotates_the_http_only_cookies(browser_run: BrowserRun) -> None:
    before, after = browser_run.jars["login"], browser_run.jars["refresh"]
    for name in TOKEN_COOKIES:
        assert before[name]["value"] != after[name]["value"], name
    assert after[CSRF_COOKIE]["value"] == browser_run.front["refresh"].json()["csrf_token"]


def test_cross_site_fetches_read_nothing(browser_run: BrowserRun) -> None:
    pages_view = {
        name: (exchange.status, exchange.body) for name, exchange in browser_run.hostile.items()
    }
    assert pages_view == {"read": (None, ""), "fetch_post": (None, "")}
    assert all("TypeError" in str(exchange.error) for exchange in browser_run.hostile.values())
    # The read is a CORS request from an origin not in CORS_ORIGINS. The blind POST asks
    # for an opaque answer, which the API's Cross-Origin-Resource-Policy refuses too.
    refusals = {name: request.refused for name, request in browser_run.hostile_wire.items()}
    assert refusals == {
        "read": "MissingAllowOriginHeader",
        "fetch_post": "corp-not-same-origin",
        "form_post": None,
    }


def test_cross_site_requests_go_without_the_session_cookies(browser_run: BrowserRun) -> None:
    for name, request in browser_run.hostile_wire.items():
        assert request.cookies_sent == [], name
        for cookie in TOKEN_COOKIES:
            reasons = set(request.cookies_withheld[cookie])
            assert reasons & SAME_SITE_STRICT, (name, cookie, reasons)
    # A top-level form POST is no third-party request: SameSite=Strict alone kept it off.
    assert browser_run.hostile_wire["form_post"].cookies_withheld["access_token"] in (
        [reason] for reason in SAME_SITE_STRICT
    )


def test_cross_site_fetch_and_form_posts_create_nothing(browser_run: BrowserRun) -> None:
    # 401, not 403: without the cookie, the API saw no session to act for.
    statuses = {name: request.status for name, request in browser_run.hostile_wire.items()}
    assert statuses == {"read": 401, "fetch_post": 401, "form_post": 401}
    items = browser_run.front["items_afterwards"].json()
    assert items["total"] == 2
    assert sorted(item["title"] for item in items["items"]) == sorted((FIRST_TITLE, SECOND_TITLE))


def test_logout_expires_the_cookies_and_ends_the_session(browser_run: BrowserRun) -> None:
    assert browser_run.front["logout"].status == 204
    assert browser_run.front["me_after_logout"].status == 401
    assert browser_run.jars["logout"] == {}
    assert browser_run.document_cookies["logout"] == ""


def test_every_request_stays_on_loopback(browser_run: BrowserRun) -> None:
    assert browser_run.requested
    hosts = {urlsplit(url).hostname for url in browser_run.requested}
    assert hosts <= LOOPBACK_HOSTS, hosts


@dataclass
class SubdomainRun:
    """The front end's session on api.example.test, and what the sibling hosts' own
    servers received while the browser held it."""

    # Out of the repr: the login answer holds the session's CSRF token.
    front: dict[str, Exchange] = field(default_factory=dict, repr=False)
    # Per sibling host, the cookie names of each request its page made to its server.
    heard: dict[str, list[list[str]]] = field(default_factory=dict)
    # Per session cookie, the host the browser keeps it for ("." first: a Domain cookie).
    cookie_domains: dict[str, str] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def subdomain_run(
    tmp_path_factory: pytest.TempPathFactory,
    default_render_python: Path,
    guarded_browser: Browser,
) -> SubdomainRun:
    run = SubdomainRun(heard={FRONT_HOST: [], SIBLING_HOST: []})
    collected = "<!doctype html><title>collected</title>"
    servers = [
        _serve_pages(
            {FRONT_END_PATH: FRONT_END_PAGE, COLLECT_PATH: collected}, run.heard[FRONT_HOST]
        ),
        _serve_pages({"/": HOSTILE_PAGE, COLLECT_PATH: collected}, run.heard[SIBLING_HOST]),
    ]
    front_site, sibling_site = (StaticSite(server.server_address[1]) for server, _ in servers)
    workdir = tmp_path_factory.mktemp("browser-subdomains")
    password = secrets.token_urlsafe(24)
    settings = _api_settings(
        workdir,
        password,
        allowed_hosts=f"{API_HOST},{LOOPBACK}",
        front_end=front_site.url(FRONT_HOST),
    )
    try:
        with served(default_render_python, workdir, settings) as url:
            api = f"http://{API_HOST}:{urlsplit(url).port}"
            context = guarded_browser.new_context()
            context.set_default_timeout(STEP_TIMEOUT_MS)
            context.on("request", lambda request: run.requested.append(request.url))
            try:
                front = context.new_page()
                front.goto(front_site.url(FRONT_HOST) + FRONT_END_PATH)
                run.front["login"] = _call(
                    front,
                    f"{api}{API}/auth/cookie/login",
                    method="POST",
                    form={"username": USERNAME, "password": password},
                )
                run.front["me"] = _call(front, f"{api}{API}/users/me")
                run.front["collect"] = _call(front, front_site.url(FRONT_HOST) + COLLECT_PATH)
                sibling = context.new_page()
                sibling.goto(sibling_site.url(SIBLING_HOST) + "/")
                run.front["sibling_collect"] = _call(
                    sibling, sibling_site.url(SIBLING_HOST) + COLLECT_PATH
                )
                run.cookie_domains = {
                    name: cookie.get("domain", "") for name, cookie in _jar(context).items()
                }
            finally:
                context.close()
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    return run


def test_sibling_subdomains_never_receive_the_session_cookies(
    subdomain_run: SubdomainRun,
) -> None:
    steps = {name: exchange.status for name, exchange in subdomain_run.front.items()}
    assert steps == {"login": 200, "me": 200, "collect": 200, "sibling_collect": 200}
    # The browser held the session for the API, and sent the siblings none of it.
    assert subdomain_run.heard == {FRONT_HOST: [[]], SIBLING_HOST: [[]]}


def test_session_cookies_are_kept_for_the_api_host_alone(subdomain_run: SubdomainRun) -> None:
    assert subdomain_run.cookie_domains == dict.fromkeys(SESSION_COOKIES, API_HOST)


def test_subdomain_run_stays_on_the_example_test_hosts(subdomain_run: SubdomainRun) -> None:
    hosts = {urlsplit(url).hostname for url in subdomain_run.requested}
    assert hosts == {API_HOST, FRONT_HOST, SIBLING_HOST}
