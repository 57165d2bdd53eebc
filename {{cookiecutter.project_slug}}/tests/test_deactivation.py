"""Deactivation takes away every credential of the user, not only the login sessions."""

from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import AuthHeaders, UserFactory, bearer, login


async def test_deactivation_revokes_api_keys_for_good(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    headers = bearer(await login(client, user.username))
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:read"]}
    )
    assert created.status_code == 201
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get("/api/v1/users/me", headers=key)).status_code == 200
    for active in (False, True):
        change = await client.patch(
            f"/api/v1/admin/users/{user.id}", headers=admin, json={"is_active": active}
        )
        assert change.status_code == 200
    # Reactivated, the user can log in again; the key from before stays dead.
    assert (await client.get("/api/v1/users/me", headers=key)).status_code == 401
    fresh = bearer(await login(client, user.username))
    assert (await client.get("/api/v1/users/me", headers=fresh)).status_code == 200
