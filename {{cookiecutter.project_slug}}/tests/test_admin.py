import uuid

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import AuthHeaders, UserFactory, bearer, login

USERS_URL = "/api/v1/admin/users"


async def test_admin_lists_users_a_page_at_a_time(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    headers = await auth_headers(Role.ADMIN)
    for _ in range(3):
        await make_user()
    first = await client.get(USERS_URL, headers=headers, params={"limit": 2})
    assert first.status_code == 200
    assert first.json()["total"] == 4
    assert len(first.json()["items"]) == 2
    rest = await client.get(USERS_URL, headers=headers, params={"limit": 2, "offset": 2})
    ids = {user["id"] for user in first.json()["items"] + rest.json()["items"]}
    assert len(ids) == 4
    assert "hashed_password" not in first.text


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"offset": -1}])
async def test_page_size_is_bounded(
    client: AsyncClient, auth_headers: AuthHeaders, params: dict[str, int]
) -> None:
    response = await client.get(USERS_URL, headers=await auth_headers(Role.ADMIN), params=params)
    assert response.status_code == 422


@pytest.mark.parametrize("role", [Role.USER, Role.GUEST])
async def test_non_admins_get_403(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory, role: Role
) -> None:
    headers = await auth_headers(role)
    target = await make_user()
    assert (await client.get(USERS_URL, headers=headers)).status_code == 403
    response = await client.patch(
        f"{USERS_URL}/{target.id}", headers=headers, json={"role": "admin"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Not enough permissions: requires scope admin"}


async def test_role_change_counts_from_the_next_request(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    user_headers = bearer(await login(client, user.username))
    change = {"full_name": "Before"}
    written = await client.patch("/api/v1/users/me", headers=user_headers, json=change)
    assert written.status_code == 200
    response = await client.patch(f"{USERS_URL}/{user.id}", headers=admin, json={"role": "guest"})
    assert response.status_code == 200
    assert response.json()["role"] == "guest"
    denied = await client.patch("/api/v1/users/me", headers=user_headers, json=change)
    assert denied.status_code == 403
    assert (await client.get("/api/v1/users/me", headers=user_headers)).status_code == 200


async def test_promotion_does_not_widen_an_existing_token(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    user_headers = bearer(await login(client, user.username))
    await client.patch(f"{USERS_URL}/{user.id}", headers=admin, json={"role": "admin"})
    assert (await client.get(USERS_URL, headers=user_headers)).status_code == 403
    fresh = bearer(await login(client, user.username))
    assert (await client.get(USERS_URL, headers=fresh)).status_code == 200


async def test_deactivation_ends_the_users_sessions_at_once(
    client: AsyncClient, auth_headers: AuthHeaders, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user()
    user_headers = bearer(await login(client, user.username))
    response = await client.patch(
        f"{USERS_URL}/{user.id}", headers=admin, json={"is_active": False}
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/api/v1/users/me", headers=user_headers)).status_code == 401


async def test_admin_cannot_demote_or_deactivate_themselves(
    client: AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.ADMIN)
    headers = bearer(await login(client, admin.username))
    for change in ({"role": "user"}, {"is_active": False}):
        response = await client.patch(f"{USERS_URL}/{admin.id}", headers=headers, json=change)
        assert response.status_code == 400
        assert response.json() == {"detail": "Admins cannot demote or deactivate themselves"}


async def test_unknown_user_is_404_and_bad_input_422(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers(Role.ADMIN)
    missing = await client.patch(f"{USERS_URL}/{uuid.uuid4()}", headers=headers, json={})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "User not found"}
    assert (
        await client.patch(f"{USERS_URL}/not-a-uuid", headers=headers, json={})
    ).status_code == 422
    bad_role = await client.patch(
        f"{USERS_URL}/{uuid.uuid4()}", headers=headers, json={"role": "root"}
    )
    assert bad_role.status_code == 422
