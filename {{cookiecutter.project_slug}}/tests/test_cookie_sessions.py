"""Browser sessions over HTTP: HttpOnly cookies, the CSRF token, the origin check."""

from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from {{ cookiecutter.project_slug }}.factory import create_app

from .conftest import BASE_URL, PASSWORD, UserFactory, bearer, login, make_settings

LOGIN_URL = "/api/v1/auth/cookie/login"
REFRESH_URL = "/api/v1/auth/cookie/refresh"
LOGOUT_URL = "/api/v1/auth/cookie/logout"
FRONT_END = "http://localhost:3000"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CORS_ORIGINS": FRONT_END, "REFRESH_REUSE_GRACE_SECONDS": 0}


def _set_cookies(response: Response) -> dict[str, Any]:
    """Each Set-Cookie of the response, parsed, by cookie name."""
    parsed: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            parsed[name] = {"value": morsel.value, "header": header.lower(), **morsel}
    return parsed


async def _cookie_login(client: AsyncClient, username: str) -> Response:
    response = await client.post(LOGIN_URL, data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


async def test_login_sets_three_cookies_and_no_token_in_the_body(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    response = await _cookie_login(client, user.username)
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "scope", "csrf_token"}
    assert body["token_type"] == "cookie"
    cookies = _set_cookies(response)
    assert set(cookies) == {"access_token", "refresh_token", "csrf_token"}
    access, refresh, csrf = (
        cookies[name] for name in ("access_token", "refresh_token", "csrf_token")
    )
    assert access["path"] == "/api/v1"
    assert refresh["path"] == "/api/v1/auth/cookie"
    assert csrf["path"] == "/"
    assert "httponly" in access["header"]
    assert "httponly" in refresh["header"]
    assert "httponly" not in csrf["header"]
    for cookie in (access, refresh, csrf):
        assert "samesite=strict" in cookie["header"]
        # Development: a front end on http://localhost must get them.
        assert "secure" not in cookie["header"].replace("__secure-", "")
    assert csrf["value"] == body["csrf_token"]
    assert access["value"] not in response.text
    assert refresh["value"] not in response.text


async def test_secure_cookies_are_host_prefixed_at_the_root_and_work(
    db_url: str, make_user: UserFactory
) -> None:
    settings = make_settings(db_url, COOKIE_SECURE=True, ALLOWED_HOSTS="testserver")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        user = await make_user()
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="https://testserver") as https:
            response = await _cookie_login(https, user.username)
            csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
            me = await https.get("/api/v1/users/me")
            refreshed = await https.post(REFRESH_URL, headers=csrf)
            logged_out = await https.post(LOGOUT_URL, headers=csrf)
    cookies = _set_cookies(response)
    assert set(cookies) == {"__Host-access_token", "__Host-refresh_token", "__Host-csrf_token"}
    for cookie in cookies.values():
        # What browsers demand of a __Host- cookie: Secure, Path=/ and no Domain.
        assert "; secure" in cookie["header"]
        assert cookie["path"] == "/"
        assert "domain=" not in cookie["header"]
    assert (me.status_code, refreshed.status_code, logged_out.status_code) == (200, 200, 204)
    assert set(_set_cookies(refreshed)) == set(cookies)
    assert set(_set_cookies(logged_out)) == set(cookies)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"COOKIE_SAMESITE": "lax"},
        {"COOKIE_SECURE": True},
        {"ENVIRONMENT": "production"},
    ],
)
{%- if cookiecutter.multi_tenancy == "yes" and cookiecutter.database == "postgresql" %}
async def test_no_cookie_names_a_domain_in_any_configuration(
    app_role_url: str, make_user: UserFactory, overrides: dict[str, Any]
) -> None:
    # Production starts only under a role that row-level security holds.
    settings = make_settings(app_role_url, ALLOWED_HOSTS="testserver", **overrides)
{%- else %}
async def test_no_cookie_names_a_domain_in_any_configuration(
    db_url: str, make_user: UserFactory, overrides: dict[str, Any]
) -> None:
    settings = make_settings(db_url, ALLOWED_HOSTS="testserver", **overrides)
{%- endif %}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        user = await make_user()
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="https://testserver") as https:
            login_response = await _cookie_login(https, user.username)
            csrf = {"X-CSRF-Token": login_response.json()["csrf_token"]}
            refreshed = await https.post(REFRESH_URL, headers=csrf)
            logged_out = await https.post(LOGOUT_URL, headers=csrf)
    headers = [
        header
        for response in (login_response, refreshed, logged_out)
        for header in response.headers.get_list("set-cookie")
    ]
    assert len(headers) == 9
    assert [header for header in headers if "domain=" in header.lower()] == []


async def test_reads_work_with_the_cookie_alone(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    await _cookie_login(client, user.username)
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 200
    assert response.json()["username"] == user.username


async def test_a_write_needs_the_sessions_csrf_token(
    client: AsyncClient, app: FastAPI, make_user: UserFactory
) -> None:
    user, other = await make_user(), await make_user()
    csrf = (await _cookie_login(client, user.username)).json()["csrf_token"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as elsewhere:
        others_csrf = (await _cookie_login(elsewhere, other.username)).json()["csrf_token"]
    change = {"full_name": "From A Browser"}
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": others_csrf}):
        refused = await client.patch("/api/v1/users/me", json=change, headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "CSRF token missing or invalid"}
    assert (await client.get("/api/v1/users/me")).json()["full_name"] != "From A Browser"
    changed = await client.patch("/api/v1/users/me", json=change, headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200
    assert (await client.get("/api/v1/users/me")).json()["full_name"] == "From A Browser"


async def test_a_foreign_origin_is_refused_a_listed_one_allowed(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    await _cookie_login(client, user.username)
    foreign = await client.get("/api/v1/users/me", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    listed = await client.get("/api/v1/users/me", headers={"Origin": FRONT_END})
    assert listed.status_code == 200
    own = await client.get("/api/v1/users/me", headers={"Origin": BASE_URL})
    assert own.status_code == 200


async def test_login_from_a_foreign_origin_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.post(
        LOGIN_URL,
        data={"username": user.username, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_refresh_rotates_and_a_spent_refresh_cookie_ends_the_session(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    first = await _cookie_login(client, user.username)
    csrf = first.json()["csrf_token"]
    old_refresh = _set_cookies(first)["refresh_token"]["value"]
    assert (await client.post(REFRESH_URL)).status_code == 403
    rotated = await client.post(REFRESH_URL, headers={"X-CSRF-Token": csrf})
    assert rotated.status_code == 200
    new_cookies = _set_cookies(rotated)
    assert new_cookies["refresh_token"]["value"] != old_refresh
    assert rotated.json()["csrf_token"] == csrf  # bound to the session, which goes on
    assert (await client.get("/api/v1/users/me")).status_code == 200
    # The spent refresh cookie, presented again (in place of the new one: both at once
    # would be refused as a tossed cookie): theft, the whole session ends.
    client.cookies.delete("refresh_token")
    client.cookies.set("refresh_token", old_refresh, path="/api/v1/auth/cookie")
    reused = await client.post(REFRESH_URL, headers={"X-CSRF-Token": csrf})
    assert reused.status_code == 401
    assert (await client.get("/api/v1/users/me")).status_code == 401


async def test_logout_expires_the_cookies_and_revokes_the_session(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    login_response = await _cookie_login(client, user.username)
    csrf = login_response.json()["csrf_token"]
    access = _set_cookies(login_response)["access_token"]["value"]
    assert (await client.post(LOGOUT_URL)).status_code == 403
    response = await client.post(LOGOUT_URL, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    expired = _set_cookies(response)
    assert set(expired) == {"access_token", "refresh_token", "csrf_token"}
    assert all(cookie["max-age"] == "0" for cookie in expired.values())
    # The access token itself is dead, not only forgotten by this browser.
    assert (
        await client.get("/api/v1/users/me", headers=bearer({"access_token": access}))
    ).status_code == 401


def _only_refresh_and_csrf_cookies(client: AsyncClient, refresh: str, csrf: str) -> None:
    """The browser's jar once the access cookie's minutes are over."""
    client.cookies.clear()
    client.cookies.set("refresh_token", refresh, path="/api/v1/auth/cookie")
    client.cookies.set("csrf_token", csrf, path="/")


async def test_logout_after_the_access_cookie_expired_ends_the_session(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    login_response = await _cookie_login(client, user.username)
    csrf = login_response.json()["csrf_token"]
    cookies = _set_cookies(login_response)
    access, refresh = cookies["access_token"]["value"], cookies["refresh_token"]["value"]
    _only_refresh_and_csrf_cookies(client, refresh, csrf)
    response = await client.post(LOGOUT_URL, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    expired = _set_cookies(response)
    assert {name: cookie["max-age"] for name, cookie in expired.items()} == {
        "access_token": "0",
        "refresh_token": "0",
        "csrf_token": "0",
    }
    # The session is over on the server, not only forgotten by this browser.
    _only_refresh_and_csrf_cookies(client, refresh, csrf)
    refused = await client.post(REFRESH_URL, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 401
    client.cookies.clear()
    me = await client.get("/api/v1/users/me", headers=bearer({"access_token": access}))
    assert me.status_code == 401


async def test_logout_by_the_refresh_cookie_needs_the_sessions_csrf_token(
    client: AsyncClient, app: FastAPI, make_user: UserFactory
) -> None:
    user, other = await make_user(), await make_user()
    login_response = await _cookie_login(client, user.username)
    csrf = login_response.json()["csrf_token"]
    refresh = _set_cookies(login_response)["refresh_token"]["value"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as elsewhere:
        others_csrf = (await _cookie_login(elsewhere, other.username)).json()["csrf_token"]
    _only_refresh_and_csrf_cookies(client, refresh, csrf)
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": others_csrf}):
        refused = await client.post(LOGOUT_URL, headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "CSRF token missing or invalid"}
        assert "set-cookie" not in refused.headers
    # Nothing was ended: the session refreshes as before.
    refreshed = await client.post(REFRESH_URL, headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200


async def test_logout_with_an_unknown_refresh_cookie_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    csrf = (await _cookie_login(client, user.username)).json()["csrf_token"]
    _only_refresh_and_csrf_cookies(client, "not-a-refresh-token", csrf)
    response = await client.post(LOGOUT_URL, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid refresh token"}


async def test_bearer_clients_need_no_csrf_token(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    response = await client.patch("/api/v1/users/me", json={"full_name": "Api"}, headers=headers)
    assert response.status_code == 200


async def test_cookie_sessions_can_be_switched_off(db_url: str, make_user: UserFactory) -> None:
    app = create_app(make_settings(db_url, COOKIE_SESSIONS=False))
    async with app.router.lifespan_context(app):
        user = await make_user()
        async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as http:
            response = await http.post(
                LOGIN_URL, data={"username": user.username, "password": PASSWORD}
            )
    assert response.status_code == 404


async def test_lax_applies_to_the_access_cookie_only(db_url: str, make_user: UserFactory) -> None:
    app = create_app(make_settings(db_url, COOKIE_SAMESITE="lax"))
    async with app.router.lifespan_context(app):
        user = await make_user()
        async with AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL) as http:
            cookies = _set_cookies(await _cookie_login(http, user.username))
    assert "samesite=lax" in cookies["access_token"]["header"]
    assert "samesite=strict" in cookies["refresh_token"]["header"]
    assert "samesite=strict" in cookies["csrf_token"]["header"]
