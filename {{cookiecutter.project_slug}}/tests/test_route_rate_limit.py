"""`RateLimit`: a limit on one's own route in one line, counted like the app's own limits."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.access.dependencies import UsersReader
from {{ cookiecutter.project_slug }}.access.rate_limit import RateLimit
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.factory import create_app

from .conftest import BASE_URL, AuthHeaders, CapturedLogs

# The routes a user would add, each with the one line the README shows.
router = APIRouter(prefix="/api/v1/reports")


@router.get("/public", dependencies=[Depends(RateLimit("3/minute", per="address"))])
async def public_report() -> dict[str, str]:
    return {"report": "public"}


@router.get("/summary", dependencies=[Depends(RateLimit("3/minute", per="address"))])
async def summary_report() -> dict[str, str]:
    return {"report": "summary"}


@router.get("/mine")
async def my_report(
    principal: UsersReader, _: Annotated[None, Depends(RateLimit("2/minute"))]
) -> dict[str, str]:
    return {"report": str(principal.user.id)}


@router.get("/daily", dependencies=[Depends(RateLimit("2/minute", bucket="exports"))])
async def daily_export() -> dict[str, str]:
    return {"export": "daily"}


@router.get("/weekly", dependencies=[Depends(RateLimit("2/minute", bucket="exports"))])
async def weekly_export() -> dict[str, str]:
    return {"export": "weekly"}


# The mistake: route-level dependencies run before the principal is known.
@router.get("/misordered", dependencies=[Depends(RateLimit("2/minute"))])
async def misordered_report(principal: UsersReader) -> dict[str, str]:
    return {"report": str(principal.user.id)}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    application.include_router(router)
    async with application.router.lifespan_context(application):
        yield application


def _client_from(app: FastAPI, address: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app, client=(address, 4242)), base_url=BASE_URL)


async def _statuses(client: AsyncClient, path: str, times: int, **kwargs: Any) -> list[int]:
    return [(await client.get(path, **kwargs)).status_code for _ in range(times)]


async def test_route_limit_answers_429_with_retry_after_once_spent(client: AsyncClient) -> None:
    assert await _statuses(client, "/api/v1/reports/public", 3) == [200, 200, 200]

    refused = await client.get("/api/v1/reports/public")

    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many requests; retry in")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_parallel_requests_get_no_more_than_the_limit(client: AsyncClient) -> None:
    responses = await asyncio.gather(*(client.get("/api/v1/reports/public") for _ in range(12)))

    assert sorted(response.status_code for response in responses) == [200] * 3 + [429] * 9


async def test_per_address_limit_counts_each_address_apart(app: FastAPI) -> None:
    async with _client_from(app, "192.0.2.1") as first, _client_from(app, "192.0.2.2") as second:
        assert await _statuses(first, "/api/v1/reports/public", 4) == [200, 200, 200, 429]

        assert (await second.get("/api/v1/reports/public")).status_code == 200


async def test_per_caller_limit_gives_each_user_a_budget_of_their_own(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    alice, bob = await auth_headers(), await auth_headers()
    path = "/api/v1/reports/mine"

    assert await _statuses(client, path, 3, headers=alice) == [200, 200, 429]
    # Same address, another user: a budget of their own.
    assert await _statuses(client, path, 2, headers=bob) == [200, 200]


async def test_each_route_has_a_budget_of_its_own(client: AsyncClient) -> None:
    assert await _statuses(client, "/api/v1/reports/public", 4) == [200, 200, 200, 429]

    assert (await client.get("/api/v1/reports/summary")).status_code == 200


async def test_routes_naming_one_bucket_share_its_budget(client: AsyncClient) -> None:
    assert await _statuses(client, "/api/v1/reports/daily", 2) == [200, 200]

    assert (await client.get("/api/v1/reports/weekly")).status_code == 429


async def test_per_caller_limit_before_the_principal_refuses_to_count(
    client: AsyncClient, auth_headers: AuthHeaders, logs: CapturedLogs
) -> None:
    response = await client.get("/api/v1/reports/misordered", headers=await auth_headers())

    assert response.status_code == 500
    (error,) = [line for line in logs.lines() if line["logger"].endswith(".errors")]
    misordered = "RateLimit(per='caller') on GET /api/v1/reports/misordered runs before"
    assert misordered in error["exc_info"]


def test_a_malformed_limit_fails_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="is not a rate limit such as '5/minute'"):
        RateLimit("ten a minute")
