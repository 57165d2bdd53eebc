from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import {% if cookiecutter.multi_tenancy == "yes" %}OrganizationRole, Role, allowed_scopes{% else %}ROLE_SCOPES, Role{% endif %}, format_scope

from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login

REFRESH_URL = "/api/v1/auth/refresh"
ME_URL = "/api/v1/users/me"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # These tests present spent tokens at once: without a grace period, that is theft.
    return {"REFRESH_REUSE_GRACE_SECONDS": 0}


async def _refresh(client: AsyncClient, token: str) -> Any:
    return await client.post(REFRESH_URL, json={"refresh_token": token})


async def test_refresh_returns_a_new_pair(client: AsyncClient, make_user: UserFactory) -> None:
    user = await make_user()
    first = await login(client, user.username, scope="users:read")
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["scope"] == "users:read"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await client.get(ME_URL, headers=bearer(second))).status_code == 200
    assert response.headers["cache-control"] == "no-store"


async def test_reused_refresh_token_revokes_family(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    first = await login(client, user.username)
    second = (await _refresh(client, first["refresh_token"])).json()
    reused = await _refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json() == {"detail": "Invalid refresh token"}
    assert (await _refresh(client, second["refresh_token"])).status_code == 401
    assert (await client.get(ME_URL, headers=bearer(second))).status_code == 401
    assert (await client.get(ME_URL, headers=bearer(first))).status_code == 401
    assert logs.events("refresh_token_reused")[0]["fields"]["user_id"] == str(user.id)


async def test_reuse_does_not_touch_the_users_other_sessions(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    stolen, other = await login(client, user.username), await login(client, user.username)
    await _refresh(client, stolen["refresh_token"])
    await _refresh(client, stolen["refresh_token"])
    assert (await client.get(ME_URL, headers=bearer(other))).status_code == 200


async def test_access_token_is_not_a_refresh_token(
    client: AsyncClient, make_user: UserFactory
) -> None:
    tokens = await login(client, (await make_user()).username)
    response = await _refresh(client, tokens["access_token"])
    assert response.status_code == 401


async def test_refresh_token_is_not_an_access_token(
    client: AsyncClient, make_user: UserFactory
) -> None:
    tokens = await login(client, (await make_user()).username)
    response = await client.get(
        ME_URL, headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert response.status_code == 401


async def test_malformed_refresh_requests_are_422(client: AsyncClient) -> None:
    for body in ({}, {"refresh_token": ""}, {"refresh_token": "x" * 4097}):
        assert (await client.post(REFRESH_URL, json=body)).status_code == 422


async def test_refresh_cuts_scopes_to_the_current_role(
    client: AsyncClient, make_user: UserFactory, auth_headers: Any
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    tokens = await login(client, user.username)
    await client.patch(f"/api/v1/admin/users/{user.id}", headers=admin, json={"role": "guest"})
    refreshed = (await _refresh(client, tokens["refresh_token"])).json()
    assert refreshed["scope"] == {% if cookiecutter.multi_tenancy == "yes" %}format_scope(allowed_scopes(Role.GUEST, OrganizationRole.MEMBER)){% else %}format_scope(ROLE_SCOPES[Role.GUEST]){% endif %}


async def test_deactivated_user_cannot_refresh(
    client: AsyncClient, make_user: UserFactory, auth_headers: Any
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    tokens = await login(client, user.username)
    await client.patch(f"/api/v1/admin/users/{user.id}", headers=admin, json={"is_active": False})
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 401


async def test_logout_revokes_the_access_token_and_its_refresh_family(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    other = await login(client, user.username)
    response = await client.post("/api/v1/auth/logout", headers=bearer(tokens))
    assert response.status_code == 204
    assert (await client.get(ME_URL, headers=bearer(tokens))).status_code == 401
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 401
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 401
    assert (await client.get(ME_URL, headers=bearer(other))).status_code == 200


async def test_logout_needs_a_token(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_new_login_after_logout_works(client: AsyncClient, make_user: UserFactory) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    await client.post("/api/v1/auth/logout", headers=bearer(tokens))
    fresh = await login(client, user.username, PASSWORD)
    assert (await client.get(ME_URL, headers=bearer(fresh))).status_code == 200
