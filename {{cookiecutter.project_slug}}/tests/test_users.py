from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import PASSWORD, AuthHeaders, UserFactory, bearer, login

ME_URL = "/api/v1/users/me"
PASSWORD_URL = "/api/v1/users/me/password"
NEW_PASSWORD = "an entirely different passphrase"


async def test_me_returns_the_caller_without_the_hash(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    response = await client.get(ME_URL, headers=bearer(await login(client, user.username)))
    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)
    assert response.json()["username"] == user.username
    assert "hashed_password" not in response.text
    assert "$argon2" not in response.text


async def test_me_without_a_token_is_401_with_a_bearer_challenge(client: AsyncClient) -> None:
    response = await client.get(ME_URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}
    assert response.headers["www-authenticate"] == 'Bearer scope="users:read"'


async def test_update_me_changes_the_allowed_fields(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    response = await client.patch(ME_URL, headers=headers, json={"full_name": "New Name"})
    assert response.status_code == 200
    assert response.json()["full_name"] == "New Name"


async def test_user_cannot_change_own_role_or_state(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    response = await client.patch(
        ME_URL,
        headers=headers,
        json={"role": "admin", "is_active": False, "email_verified": True, "id": "x"},
    )
    assert response.status_code == 200
    me = (await client.get(ME_URL, headers=headers)).json()
    assert me["role"] == "user"
    assert me["is_active"] is True
    assert me["email_verified"] is False


async def test_changing_email_clears_its_verification(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    response = await client.patch(
        ME_URL, headers=headers, json={"email": "NEW@example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"
    assert response.json()["email_verified"] is False


async def test_changing_email_to_a_taken_one_is_409(
    client: AsyncClient, make_user: UserFactory
) -> None:
    first, second = await make_user(), await make_user()
    headers = bearer(await login(client, second.username))
    response = await client.patch(
        ME_URL, headers=headers, json={"email": first.email, "current_password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "Email already registered"}


async def test_guest_cannot_update_profile(client: AsyncClient, auth_headers: AuthHeaders) -> None:
    response = await client.patch(
        ME_URL, headers=await auth_headers(Role.GUEST), json={"full_name": "x"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Not enough permissions: requires scope users:write"}
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_token_without_users_write_cannot_update_profile(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers(Role.USER, scope="users:read")
    assert (await client.get(ME_URL, headers=headers)).status_code == 200
    response = await client.patch(ME_URL, headers=headers, json={"full_name": "x"})
    assert response.status_code == 403


async def test_password_change_needs_the_current_password(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    response = await client.post(
        PASSWORD_URL,
        headers=headers,
        json={"current_password": "wrong password!", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Current password is incorrect"}


async def test_password_change_applies_the_password_rules(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    response = await client.post(
        PASSWORD_URL,
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem == {
        "type": "value_error",
        "loc": ["body", "new_password"],
        "msg": "Password must be at least 12 characters",
    }


async def test_password_change_ends_every_other_session(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    current = bearer(await login(client, user.username))
    other = bearer(await login(client, user.username))
    response = await client.post(
        PASSWORD_URL,
        headers=current,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204
    assert (await client.get(ME_URL, headers=current)).status_code == 200
    assert (await client.get(ME_URL, headers=other)).status_code == 401
    old = await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    assert old.status_code == 401
    await login(client, user.username, NEW_PASSWORD)


async def test_changing_email_needs_the_current_password(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    missing = await client.patch(ME_URL, headers=headers, json={"email": "new@example.com"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["msg"] == (
        "Value error, current_password is required to change the email address"
    )
    wrong = await client.patch(
        ME_URL,
        headers=headers,
        json={"email": "new@example.com", "current_password": "not the password"},
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "Current password is incorrect"}
    me = (await client.get(ME_URL, headers=headers)).json()
    assert me["email"] == user.email
