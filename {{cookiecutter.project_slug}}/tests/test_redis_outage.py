"""When Redis goes away: authentication fails closed, rate limits fall back to the process,
and both recover when Redis is back."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.redis_feed import InvalidationFeed
from {{ cookiecutter.project_slug }}.security import rate_limit

from .conftest import BASE_URL, PASSWORD, CapturedLogs, UserFactory, bearer, login, make_settings
from .redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def app(db_url: str, redis_server: RedisServer) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        db_url,
        REDIS_URL=redis_server.url,
        RATE_LIMIT_LOGIN="3/minute",
        # A spent refresh token presented at once counts as theft, as it would later.
        REFRESH_REUSE_GRACE_SECONDS=0,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "RETRY_SECONDS", 0.0)


async def test_revocation_checks_fail_closed_while_redis_is_down(
    client: AsyncClient, make_user: UserFactory, redis_server: RedisServer
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    redis_server.stop()
    response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "Authentication is temporarily unavailable"}
    logout = await client.post("/api/v1/auth/logout", headers=headers)
    assert logout.status_code == 503
    ready = await client.get("/api/v1/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {"detail": "Redis unavailable"}
    redis_server.start()
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/health/ready")).status_code == 200


async def test_a_logout_seen_before_the_outage_stays_seen(
    client: AsyncClient, make_user: UserFactory, redis_server: RedisServer
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    redis_server.stop()
    redis_server.start()
    # The restarted Redis has forgotten every version; the database still knows.
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401


async def test_rate_limits_degrade_to_the_process_and_recover(
    client: AsyncClient, redis_server: RedisServer, logs: CapturedLogs
) -> None:
    form: dict[str, Any] = {"username": "nobody", "password": PASSWORD}
    redis_server.stop()
    statuses = [(await client.post("/api/v1/auth/token", data=form)).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert any("rate limit store unreachable" in line["message"] for line in logs.lines())
    redis_server.start()
    # Back on Redis, which has not seen this address yet: a fresh budget.
    assert (await client.post("/api/v1/auth/token", data=form)).status_code == 401
    assert any(line["message"] == "rate limit store reachable again" for line in logs.lines())


async def test_limits_are_shared_through_redis(
    db_url: str, redis_server: RedisServer, client: AsyncClient
) -> None:
    other = create_app(
        make_settings(db_url, REDIS_URL=redis_server.url, RATE_LIMIT_LOGIN="3/minute")
    )
    form = {"username": "nobody", "password": PASSWORD}
    for _ in range(3):
        await client.post("/api/v1/auth/token", data=form)
    async with other.router.lifespan_context(other):
        transport = ASGITransport(app=other)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as second:
            response = await second.post("/api/v1/auth/token", data=form)
    assert response.status_code == 429


async def test_refresh_token_reuse_during_an_outage_still_ends_the_family(
    client: AsyncClient, make_user: UserFactory, redis_server: RedisServer, logs: CapturedLogs
) -> None:
    user = await make_user()
    first = await login(client, user.username)
    rotated = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    redis_server.stop()
    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401
    assert logs.events("refresh_token_reused")
    redis_server.start()
    assert (await client.get("/api/v1/users/me", headers=bearer(rotated))).status_code == 401


async def test_the_feed_stops_even_when_a_probe_swallows_its_cancellation(
    redis_server: RedisServer,
) -> None:
    """redis-py may swallow the cancellation of a call under way: the app's shutdown
    must not then wait for a heartbeat that never ends."""
    probing = asyncio.Event()

    async def stubborn_probe() -> None:
        probing.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)

    feed = InvalidationFeed(redis_server.url, stubborn_probe)
    feed.start()
    for _ in range(3):
        probing.clear()
        await asyncio.wait_for(probing.wait(), timeout=5)
    await asyncio.wait_for(feed.stop(), timeout=5)
    assert not feed.healthy
