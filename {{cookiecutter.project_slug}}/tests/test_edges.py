"""CORS, Host allow-list and the body-size limit: what reaches the app at all."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient

ORIGIN = "https://app.example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CORS_ORIGINS": f"{ORIGIN},http://localhost:3000", "MAX_BODY_BYTES": 1024 * 1024}


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_allowed_origin_preflight_is_answered(client: AsyncClient) -> None:
    response = await client.options("/api/v1/items", headers=_preflight(ORIGIN))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://app.example.com.evil"])
async def test_foreign_origin_preflight_is_refused(client: AsyncClient, origin: str) -> None:
    response = await client.options("/api/v1/items", headers=_preflight(origin))
    assert response.status_code == 400
    assert response.json() == {"detail": "Disallowed CORS origin"}
    assert "access-control-allow-origin" not in response.headers


async def test_foreign_origin_gets_no_cors_headers_on_a_simple_request(
    client: AsyncClient,
) -> None:
    response = await client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    allowed = await client.get("/api/v1/health", headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.2:8000"])
async def test_unknown_host_is_400(client: AsyncClient, host: str) -> None:
    response = await client.get("/api/v1/health", headers={"Host": host})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid host header"}
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"])
async def test_allowed_hosts_pass(client: AsyncClient, host: str) -> None:
    response = await client.get("/api/v1/health", headers={"Host": host})
    assert response.status_code == 200


async def test_declared_oversize_body_is_413_before_reading(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b"{" + b" " * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body is larger than 1048576 bytes"}


async def test_streamed_oversize_body_is_cut_off_while_streaming(client: AsyncClient) -> None:
    chunk = b" " * 65536
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for number in range(32):  # 2 MiB in all
            sent.append(number)
            yield chunk

    response = await client.post(
        "/api/v1/auth/register", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert len(sent) < 32


async def test_body_within_the_limit_is_accepted(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "username": "roomy",
            "email": "roomy@example.com",
            "password": "p" * 20 + "x" * 5,
            "full_name": "n" * 100,
        },
    )
    assert response.status_code == 201
