"""CORS, Host allow-list, proxy headers and the body-size limit: what reaches the app at all."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.middleware.trusted_host import MAX_REMEMBERED

from .conftest import BASE_URL, AuthHeaders, CapturedLogs

ORIGIN = "https://app.example.com"
# Networks, one written with host bits set (settings take it as its network), and IPv6.
TRUSTED_PROXIES = "10.0.0.0/8, 192.0.2.1/24, 2001:db8:ffff::/48"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "CORS_ORIGINS": f"{ORIGIN},http://localhost:3000",
        "MAX_BODY_BYTES": 1024 * 1024,
        "TRUSTED_PROXIES": TRUSTED_PROXIES,
        "ALLOWED_HOSTS": "localhost, 127.0.0.1, [::1], *.example.com",
    }


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_allowed_origin_preflight_is_answered(client: AsyncClient) -> None:
    response = await client.options("/api/v1/users/me", headers=_preflight(ORIGIN))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://app.example.com.evil"])
async def test_foreign_origin_preflight_is_refused(client: AsyncClient, origin: str) -> None:
    response = await client.options("/api/v1/users/me", headers=_preflight(origin))
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


@pytest.mark.parametrize(
    "host",
    ["evil.example", "localhost.evil.example", "127.0.0.2:8000", "[::2]:80", "[::1", "localhost/x"],
)
async def test_unknown_host_is_400(client: AsyncClient, host: str) -> None:
    response = await client.get("/api/v1/health", headers={"Host": host})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid host header"}
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST", "api.example.com:443"]
)
async def test_allowed_hosts_pass(client: AsyncClient, host: str) -> None:
    response = await client.get("/api/v1/health", headers={"Host": host})
    assert response.status_code == 200


async def test_host_decisions_hold_when_remembered_and_past_the_memory(
    client: AsyncClient,
) -> None:
    """Each decision is remembered per Host value; made-up hosts beyond what is kept are
    still refused, and the allowed one still passes."""
    hosts = [f"evil-{number}.example" for number in range(MAX_REMEMBERED + 10)]
    statuses = [
        (await client.get("/api/v1/health", headers={"Host": host})).status_code
        for host in hosts * 2
    ]
    assert statuses == [400] * len(hosts) * 2
    for _ in range(2):
        response = await client.get("/api/v1/health", headers={"Host": "LOCALHOST"})
        assert response.status_code == 200


@pytest.mark.parametrize("host", ["evil/x.example.com", "evil@x.example.com", "x.example.com:abc"])
async def test_host_that_is_no_host_name_is_400_even_under_a_wildcard(
    client: AsyncClient, host: str
) -> None:
    response = await client.get("/api/v1/health", headers={"Host": host})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid host header"}


async def test_declared_oversize_body_is_413_before_reading(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b"{" + b" " * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body is larger than 1048576 bytes"}


async def test_declared_oversize_body_is_refused_before_the_route_runs(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    # A DELETE reads no body: a limit that waited for the app to read one would delete first.
    headers = await auth_headers()
    body = {"name": "kept", "scopes": ["users:read"]}
    key = (await client.post("/api/v1/api-keys", json=body, headers=headers)).json()
    url = f"/api/v1/api-keys/{key['id']}"
    response = await client.request("DELETE", url, headers=headers, content=b" " * 2 * 1024 * 1024)
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"
    assert "x-request-id" in response.headers
    listed = (await client.get("/api/v1/api-keys", headers=headers)).json()
    assert [row["id"] for row in listed] == [key["id"]]


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


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("10.1.2.3", "[2001:db8::1]", "2001:db8::1"),
        ("10.1.2.3", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.1.2.3", "203.0.113.9:4711", "203.0.113.9"),
        ("192.0.2.200", "203.0.113.9", "203.0.113.9"),
        ("2001:db8:ffff::5", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "198.51.100.7, 203.0.113.9, 10.9.9.9", "203.0.113.9"),
        ("11.0.0.1", "203.0.113.9", "11.0.0.1"),
        ("2001:db8::5", "203.0.113.9", "2001:db8::5"),
    ],
    ids=[
        "bracketed-ipv6",
        "bracketed-ipv6-with-port",
        "ipv4-with-port",
        "network-written-with-host-bits",
        "ipv6-proxy-network",
        "right-most-untrusted-hop",
        "peer-outside-the-networks",
        "ipv6-peer-outside-the-networks",
    ],
)
async def test_client_address_is_the_hop_before_the_trusted_proxies(
    app: FastAPI, logs: CapturedLogs, peer: str, forwarded_for: str, client: str
) -> None:
    transport = ASGITransport(app=app, client=(peer, 4242))
    async with AsyncClient(transport=transport, base_url=BASE_URL) as http:
        headers = {"X-Forwarded-For": forwarded_for, "X-Request-ID": "proxied-1"}
        response = await http.get("/api/v1/health", headers=headers)
    assert response.status_code == 200
    access = [line for line in logs.lines() if line.get("request_id") == "proxied-1"]
    assert [line["client"] for line in access if line["logger"].endswith(".access")] == [client]
