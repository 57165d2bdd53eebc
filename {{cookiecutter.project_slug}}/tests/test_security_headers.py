from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.factory import create_app

from .conftest import BASE_URL, PASSWORD, make_settings

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "content-security-policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "cache-control": "no-store",
}


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers.get("x-xss-protection") in (None, "0")
    assert "server" not in response.headers
    assert response.headers["x-request-id"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RATE_LIMIT_LOGIN": "2/minute", "MAX_BODY_BYTES": 2048}


@pytest.fixture
async def app(settings: Any) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("database password is hunter2")

    application.add_api_route("/boom", explode)
    async with application.router.lifespan_context(application):
        yield application


async def _responses(client: AsyncClient) -> dict[int, httpx.Response]:
    form = {"username": "nobody", "password": PASSWORD}
    # In this order: the login limit (2/minute) is spent by the 422 and the 401.
    invalid = await client.post("/api/v1/auth/register", json={"username": "x"})
    wrong_login = await client.post("/api/v1/auth/token", data=form)
    return {
        200: await client.get("/api/v1/health"),
        401: wrong_login,
        404: await client.get("/no/such/route"),
        405: await client.delete("/api/v1/health"),
        413: await client.post("/api/v1/auth/register", content=b"x" * 4096),
        422: invalid,
        429: await client.post("/api/v1/auth/token", data=form),
        500: await client.get("/boom"),
    }


async def test_every_status_carries_the_security_headers(client: AsyncClient) -> None:
    responses = await _responses(client)
    for status, response in responses.items():
        assert response.status_code == status, (status, response.text)
        assert_security_headers(response)
        assert "strict-transport-security" not in response.headers


async def test_errors_are_json_with_a_detail(client: AsyncClient) -> None:
    for status, response in (await _responses(client)).items():
        if status != 200:
            assert response.headers["content-type"].startswith("application/json"), status
            assert "detail" in response.json(), status


async def test_500_says_only_internal_server_error_and_the_request_id(
    client: AsyncClient,
) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "trace-me-500"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error", "request_id": "trace-me-500"}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text{%- if cookiecutter.multi_tenancy == "yes" and cookiecutter.database == "postgresql" %}


async def test_production_adds_hsts_and_redirects_plain_http(app_role_url: str) -> None:
    # Production starts only under a role that row-level security holds.
    app = create_app(make_settings(app_role_url, ENVIRONMENT="production"))
{%- else %}


async def test_production_adds_hsts_and_redirects_plain_http(db_url: str) -> None:
    app = create_app(make_settings(db_url, ENVIRONMENT="production"))
{%- endif %}
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="https://localhost") as client:
            secure = await client.get("/api/v1/health")
        async with AsyncClient(transport=transport, base_url=BASE_URL) as client:
            plain = await client.get("/api/v1/users/me")
            probe = await client.get("/api/v1/health")
            foreign = await client.get("/api/v1/users/me", headers={"Host": "evil.example"})
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert_security_headers(secure)
    assert plain.status_code == 307
    assert plain.headers["location"] == "https://localhost/api/v1/users/me"
    assert_security_headers(plain)
    # Health probes talk plain HTTP to the process; an unknown host is refused, not sent on.
    assert probe.status_code == 200
    assert foreign.status_code == 400
