import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.security.rate_limit import parse_limit
from {{ cookiecutter.project_slug }}.users.schemas import UserCreate
from {{ cookiecutter.project_slug }}.users.service import create_user

from .conftest import BASE_URL, PASSWORD, CapturedLogs, UserFactory, bearer, login, make_settings

TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "RATE_LIMIT_LOGIN": "3/minute",
        "RATE_LIMIT_DEFAULT": "4/minute",
        "TRUSTED_PROXIES": "10.0.0.1",
    }


def _client(app: FastAPI, peer: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app, client=(peer, 4242)), base_url=BASE_URL)


@pytest.fixture
async def proxy(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client connecting from the trusted proxy 10.0.0.1."""
    async with _client(app, "10.0.0.1") as http:
        yield http


def _form(username: str = "nobody", password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


async def test_login_is_429_with_retry_after_past_the_limit(
    client: AsyncClient, logs: CapturedLogs
) -> None:
    statuses = [(await client.post(TOKEN_URL, data=_form())).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = await client.post(TOKEN_URL, data=_form("someone-else"))
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many requests")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert logs.events("rate_limited")[0]["fields"]["path"] == TOKEN_URL


async def test_every_unauthenticated_auth_endpoint_shares_the_login_limit(
    client: AsyncClient,
) -> None:
    for _ in range(3):
        await client.post("/api/v1/auth/register", json={})
    assert (await client.post(TOKEN_URL, data=_form())).status_code == 429


async def test_refresh_has_its_own_looser_budget(
    client: AsyncClient, make_user: UserFactory, app: FastAPI
) -> None:
    user = await make_user()
    async with _client(app, "127.0.0.9") as elsewhere:
        tokens = await login(elsewhere, user.username)
    for _ in range(3):
        await client.post(TOKEN_URL, data=_form())
    assert (await client.post(TOKEN_URL, data=_form())).status_code == 429
    # The address's logins are spent; its users can still refresh (RATE_LIMIT_REFRESH).
    for _ in range(5):
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 200
        tokens = response.json()


async def test_refresh_is_limited_per_address(client: AsyncClient, app: FastAPI) -> None:
    app.state.services.limiter.refresh = parse_limit("2/minute")
    statuses = [
        (await client.post("/api/v1/auth/refresh", json={"refresh_token": "x"})).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    client: AsyncClient,
) -> None:
    for number in range(3):
        headers = {"X-Forwarded-For": f"203.0.113.{number}"}
        await client.post(TOKEN_URL, data=_form(f"user{number}"), headers=headers)
    response = await client.post(
        TOKEN_URL, data=_form("user9"), headers={"X-Forwarded-For": "203.0.113.99"}
    )
    assert response.status_code == 429


async def test_trusted_proxy_forwarded_address_is_honoured(proxy: AsyncClient) -> None:
    for number in range(4):
        response = await proxy.post(
            TOKEN_URL,
            data=_form(f"user{number}"),
            headers={"X-Forwarded-For": f"198.51.100.7, 203.0.113.{number}"},
        )
        assert response.status_code == 401


async def test_failed_logins_are_limited_per_account_across_addresses(
    proxy: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    for number in range(3):
        headers = {"X-Forwarded-For": f"203.0.113.{number}"}
        response = await proxy.post(
            TOKEN_URL, data=_form(user.username, "wrong password!"), headers=headers
        )
        assert response.status_code == 401
    response = await proxy.post(
        TOKEN_URL,
        data=_form(user.username.upper(), PASSWORD),
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert response.status_code == 429


async def test_default_limit_is_per_user(
    client: AsyncClient, make_user: UserFactory, app: FastAPI
) -> None:
    first, second = await make_user(), await make_user()
    first_headers = bearer(await login(client, first.username))
    async with _client(app, "127.0.0.2") as other:
        second_headers = bearer(await login(other, second.username))
    # The first request loads the caller and the next ones find them cached: both count
    # in one budget.
    responses = [await client.get("/api/v1/users/me", headers=first_headers) for _ in range(5)]
    assert [response.status_code for response in responses] == [200, 200, 200, 200, 429]
    assert 1 <= int(responses[-1].headers["retry-after"]) <= 60
    assert (await client.get("/api/v1/users/me", headers=second_headers)).status_code == 200


async def test_health_is_never_limited(client: AsyncClient) -> None:
    for _ in range(10):
        assert (await client.get("/api/v1/health")).status_code == 200


async def test_unknown_user_and_wrong_password_take_about_as_long(db_url: str) -> None:
    # Hashing must dominate, as in production: a costlier hash than the other tests use.
    app = create_app(
        make_settings(
            db_url,
            ARGON2_MEMORY_COST=8192,
            ARGON2_TIME_COST=2,
            RATE_LIMIT_LOGIN="1000/minute",
        )
    )
    services = app.state.services
    async with app.router.lifespan_context(app), _client(app, "127.0.0.1") as http:
        data = UserCreate(username="victim", email="victim@example.com", password=PASSWORD)
        async with services.sessionmaker() as session:
            await create_user(session, services.hasher, data)
        timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
        for _ in range(15):
            for kind, name in (("unknown", "nobody-here"), ("wrong", "victim")):
                start = time.perf_counter()
                response = await http.post(TOKEN_URL, data=_form(name, "not the password"))
                timings[kind].append(time.perf_counter() - start)
                assert response.status_code == 401
    unknown, wrong = (statistics.median(timings[k]) for k in ("unknown", "wrong"))
    assert 0.5 < unknown / wrong < 2, (unknown, wrong)
