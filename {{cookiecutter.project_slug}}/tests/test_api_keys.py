import hashlib
from datetime import timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, update

from {{ cookiecutter.project_slug }}.api_keys.models import ApiKey
from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services

from .conftest import (
    BASE_URL,
    AuthHeaders,
    CapturedLogs,
    UserFactory,
    bearer,
    login,
    make_settings,
)

KEYS_URL = "/api/v1/api-keys"


async def _create(
    client: AsyncClient, headers: dict[str, str], scopes: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        KEYS_URL, headers=headers, json={"name": "ci", "scopes": scopes, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_created_key_is_shown_once_and_stored_hashed(
    client: AsyncClient, auth_headers: AuthHeaders, services: Services, logs: CapturedLogs
) -> None:
    headers = await auth_headers()
    created = await _create(client, headers, ["users:write", "users:read"], expires_in_days=30)
    key = created["key"]
    assert key.startswith("sk_")
    assert len(key) >= 3 + 43
    assert created["prefix"] == key[:11]
    assert created["scopes"] == ["users:read", "users:write"]
    listed = await client.get(KEYS_URL, headers=headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [created["id"]]
    assert "key" not in listed.json()[0]
    assert key not in listed.text
    async with services.sessionmaker() as session:
        stored = await session.scalar(select(ApiKey))
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.prefix, stored.name, stored.scope}
    assert logs.events("api_key_created")
    assert key not in logs.text


async def test_key_authenticates_with_its_own_scopes(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    key = (await _create(client, headers, ["users:read"]))["key"]
    with_key = {"X-API-Key": key}
    response = await client.get("/api/v1/users/me", headers=with_key)
    assert response.status_code == 200
    assert response.json()["id"] == me["id"]
    denied = await client.patch("/api/v1/users/me", headers=with_key, json={"full_name": "x"})
    assert denied.status_code == 403
    assert denied.json() == {"detail": "Not enough permissions: requires scope users:write"}


async def test_key_scopes_must_be_a_subset_of_the_owners(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers(Role.GUEST)
    response = await client.post(
        KEYS_URL, headers=headers, json={"name": "x", "scopes": ["users:read", "users:write"]}
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your role or token cannot grant scope users:write to a key"
    }


async def test_a_narrowed_token_cannot_mint_a_wider_key(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    narrow = bearer(await login(client, user.username, scope="users:read"))
    response = await client.post(
        KEYS_URL, headers=narrow, json={"name": "x", "scopes": ["users:read", "users:write"]}
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your role or token cannot grant scope users:write to a key"
    }
    allowed = await client.post(
        KEYS_URL, headers=narrow, json={"name": "x", "scopes": ["users:read"]}
    )
    assert allowed.status_code == 201


async def test_random_keys_are_charged_to_the_address(db_url: str) -> None:
    app = create_app(make_settings(db_url, RATE_LIMIT_DEFAULT="3/minute"))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as http:
            statuses = [
                (
                    await http.get("/api/v1/users/me", headers={"X-API-Key": f"sk_junk{n}"})
                ).status_code
                for n in range(5)
            ]
    assert statuses == [401, 401, 401, 429, 429]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["users:read"]},
        {"name": "x", "scopes": ["users:read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["users:read"], "expires_in_days": 366},
    ],
)
async def test_malformed_key_requests_are_422(
    client: AsyncClient, auth_headers: AuthHeaders, body: dict[str, Any]
) -> None:
    response = await client.post(KEYS_URL, headers=await auth_headers(), json=body)
    assert response.status_code == 422


async def test_revoked_key_is_401(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    headers = await auth_headers()
    created = await _create(client, headers, ["users:read"])
    assert (await client.delete(f"{KEYS_URL}/{created['id']}", headers=headers)).status_code == 204
    response = await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    assert response.status_code == 401
    assert (await client.get(KEYS_URL, headers=headers)).json() == []
    again = await client.delete(f"{KEYS_URL}/{created['id']}", headers=headers)
    assert again.status_code == 404


async def test_expired_key_is_401(
    client: AsyncClient, auth_headers: AuthHeaders, services: Services
) -> None:
    headers = await auth_headers()
    created = await _create(client, headers, ["users:read"], expires_in_days=1)
    async with services.sessionmaker() as session:
        await session.execute(update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    response = await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    assert response.status_code == 401


@pytest.mark.parametrize("key", ["sk_not-a-real-key", "", "x" * 5000])
async def test_unknown_key_is_401(client: AsyncClient, key: str) -> None:
    response = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
    assert response.status_code == 401


async def test_another_users_key_cannot_be_revoked(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    owner, other = await auth_headers(), await auth_headers()
    created = await _create(client, owner, ["users:read"])
    response = await client.delete(f"{KEYS_URL}/{created['id']}", headers=other)
    assert response.status_code == 404
    assert (
        await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    ).status_code == 200


async def test_a_key_cannot_manage_keys_log_out_or_change_the_password(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    key = {"X-API-Key": (await _create(client, headers, ["users:read", "users:write"]))["key"]}
    attempts = [
        await client.get(KEYS_URL, headers=key),
        await client.post(KEYS_URL, headers=key, json={"name": "x", "scopes": ["users:read"]}),
        await client.post("/api/v1/auth/logout", headers=key),
        await client.post(
            "/api/v1/users/me/password",
            headers=key,
            json={"current_password": "x" * 12, "new_password": "y" * 12},
        ),
    ]
    for response in attempts:
        assert response.status_code == 401
        assert response.json() == {"detail": "This endpoint needs a bearer token, not an API key"}


async def test_role_downgrade_cuts_a_keys_scopes(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    admin, headers = await auth_headers(Role.ADMIN), await auth_headers()
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    key = {"X-API-Key": (await _create(client, headers, ["users:read", "users:write"]))["key"]}
    await client.patch(f"/api/v1/admin/users/{me['id']}", headers=admin, json={"role": "guest"})
    written = await client.patch("/api/v1/users/me", headers=key, json={"full_name": "x"})
    assert written.status_code == 403
    assert (await client.get("/api/v1/users/me", headers=key)).status_code == 200


async def test_key_records_when_it_was_last_used(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    created = await _create(client, headers, ["users:read"])
    assert created["last_used_at"] is None
    await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    listed = (await client.get(KEYS_URL, headers=headers)).json()
    assert listed[0]["last_used_at"] is not None
