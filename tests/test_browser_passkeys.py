"""Passkeys in real Chromium: a front end registers one and logs in with it, bearer and
cookie variants, the way docs/passkeys.md tells a developer to.

The default render serves the API on http://localhost:B with FRONTEND_URL (and so the
passkeys' origin and RP ID) set to the page's http://localhost:A. The browser's
authenticator is the DevTools protocol's virtual one (`WebAuthn.addVirtualAuthenticator`:
CTAP2, built in, resident keys, user verification), so the page's own
`navigator.credentials.create()` and `.get()` run the ceremonies, and the options and
answers pass through `PublicKeyCredential.parseCreationOptionsFromJSON`,
`parseRequestOptionsFromJSON` and `credential.toJSON()` untouched. One run
(`passkey_run`); each test checks one part of its record.
"""

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from live_app import served
from playwright.sync_api import Browser
from test_browser import STEP_TIMEOUT_MS
from test_browser_cookies import (
    USERNAME,
    StaticSite,
    _api_settings,
    _serve_pages,
    guarded_browser,  # noqa: F401 - the module's browser, a fixture of that module reused
)

API = "/api/v1"
PAGE_PATH = "/passkeys.html"
# The page's script: the few lines docs/passkeys.md shows, each step's answer reported.
PAGE = """<!doctype html><title>passkeys</title><script>
async function post(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", ...headers},
    body: JSON.stringify(body),
    credentials: "include",
  });
  return {status: response.status, body: await response.text()};
}
async function tokenLogin(api, username, password) {
  const response = await fetch(api + "/auth/token", {
    method: "POST", body: new URLSearchParams({username, password}),
  });
  return {status: response.status, body: await response.text()};
}
async function register(api, token, password) {
  const auth = {Authorization: `Bearer ${token}`};
  const options = await post(api + "/users/me/passkeys/registration-options",
                             {current_password: password}, auth);
  if (options.status !== 200) return {options};
  const created = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(options.body)),
  });
  const stored = await post(api + "/users/me/passkeys",
                            {name: "Chromium", credential: created.toJSON()}, auth);
  return {options, stored};
}
async function logIn(api, path) {
  const options = await post(api + "/auth/passkey/options", {});
  if (options.status !== 200) return {options};
  const assertion = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(options.body)),
  });
  const login = await post(api + path, {credential: assertion.toJSON()});
  return {options, login};
}
async function me(api, headers = {}) {
  const response = await fetch(api + "/users/me", {headers, credentials: "include"});
  return {status: response.status, body: await response.text()};
}
</script>"""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class PasskeyRun:
    """What the page was answered, step by step, and what the authenticator holds."""

    steps: dict[str, Answer] = field(default_factory=dict)
    # The virtual authenticator's credentials after the run (no private keys kept here).
    credentials: list[dict[str, Any]] = field(default_factory=list, repr=False)


@pytest.fixture(scope="module")
def front_end() -> Iterator[StaticSite]:
    server, thread = _serve_pages({PAGE_PATH: PAGE})
    try:
        yield StaticSite(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def passkey_api(
    tmp_path_factory: pytest.TempPathFactory,
    default_render_python: Path,
    front_end: StaticSite,
) -> Iterator[tuple[str, str]]:
    """The default render on http://localhost:B, whose passkeys belong to the page's
    origin; its URL and the admin's password."""
    workdir = tmp_path_factory.mktemp("browser-passkeys")
    password = secrets.token_urlsafe(24)
    page_origin = front_end.url("localhost")
    settings = _api_settings(
        workdir, password, allowed_hosts="localhost,127.0.0.1", front_end=page_origin
    )
    settings["FRONTEND_URL"] = page_origin
    with served(default_render_python, workdir, settings) as url:
        yield f"http://localhost:{urlsplit(url).port}{API}", password


@pytest.fixture(scope="module")
def passkey_run(
    guarded_browser: Browser,  # noqa: F811 - the fixture imported above
    front_end: StaticSite,
    passkey_api: tuple[str, str],
) -> PasskeyRun:
    api, password = passkey_api
    run = PasskeyRun()
    context = guarded_browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(front_end.url("localhost") + PAGE_PATH)
        webauthn = context.new_cdp_session(page)
        webauthn.send("WebAuthn.enable", {"enableUI": False})
        authenticator = webauthn.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )

        def step(name: str, script: str, *arguments: Any) -> dict[str, Any]:
            result: dict[str, Any] = page.evaluate(script, list(arguments))
            for part, answer in result.items():
                run.steps[f"{name}.{part}"] = Answer(**answer)
            return result

        login = step(
            "password",
            "([a, u, p]) => tokenLogin(a, u, p).then(l => ({login: l}))",
            api,
            USERNAME,
            password,
        )
        token = json.loads(login["login"]["body"])["access_token"]
        step("register", "([a, t, p]) => register(a, t, p)", api, token, password)
        bearer = step("bearer", "([a]) => logIn(a, '/auth/passkey/token')", api)
        if bearer.get("login", {}).get("status") == HTTPStatus.OK:
            access = json.loads(bearer["login"]["body"])["access_token"]
            step(
                "bearer_me",
                "([a, t]) => me(a, {Authorization: `Bearer ${t}`}).then(m => ({me: m}))",
                api,
                access,
            )
        step("cookie", "([a]) => logIn(a, '/auth/cookie/passkey')", api)
        step("cookie_me", "([a]) => me(a).then(m => ({me: m}))", api)
        run.credentials = webauthn.send(
            "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
        )["credentials"]
    finally:
        context.close()
    return run


def test_chromium_registers_a_passkey_from_the_json_options(passkey_run: PasskeyRun) -> None:
    options = passkey_run.steps["register.options"]
    assert options.status == HTTPStatus.OK, options
    assert options.json()["authenticatorSelection"]["residentKey"] == "required"
    stored = passkey_run.steps["register.stored"]
    assert stored.status == HTTPStatus.CREATED, stored
    assert stored.json()["name"] == "Chromium"
    [credential] = passkey_run.credentials
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"


def test_chromium_logs_in_with_the_passkey_for_a_bearer_token(passkey_run: PasskeyRun) -> None:
    login = passkey_run.steps["bearer.login"]
    assert login.status == HTTPStatus.OK, login
    assert set(login.json()) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
    }
    me = passkey_run.steps["bearer_me.me"]
    assert me.status == HTTPStatus.OK, me
    assert me.json()["username"] == USERNAME


def test_chromium_logs_in_with_the_passkey_for_a_cookie_session(passkey_run: PasskeyRun) -> None:
    login = passkey_run.steps["cookie.login"]
    assert login.status == HTTPStatus.OK, login
    assert set(login.json()) == {"token_type", "expires_in", "scope", "csrf_token"}
    me = passkey_run.steps["cookie_me.me"]
    assert me.status == HTTPStatus.OK, me
    assert me.json()["username"] == USERNAME
    # The registration and the two logins, each counted by the authenticator: the server
    # took a rising counter each time.
    [credential] = passkey_run.credentials
    assert credential["signCount"] == 3
