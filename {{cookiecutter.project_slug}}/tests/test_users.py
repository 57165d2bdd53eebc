from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.users.schemas import UserCreate
from {{ cookiecutter.project_slug }}.users.service import create_user

from .conftest import BASE_URL, PASSWORD, AuthHeaders, UserFactory, bearer, login, make_settings

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


async def test_wrong_current_passwords_are_rate_limited(db_url: str) -> None:
    app = create_app(make_settings(db_url, RATE_LIMIT_LOGIN="3/minute"))
    async with app.router.lifespan_context(app):
        services = app.state.services
        data = UserCreate(username="guessed", email="guessed@example.com", password=PASSWORD)
        async with services.sessionmaker() as session:
            await create_user(session, services.hasher, data)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url=BASE_URL) as http:
            headers = bearer(await login(http, "guessed"))
            statuses = [
                (
                    await http.post(
                        PASSWORD_URL,
                        headers=headers,
                        json={
                            "current_password": f"guess number {n}",
                            "new_password": NEW_PASSWORD,
                        },
                    )
                ).status_code
                for n in range(4)
            ]
            right = await http.post(
                PASSWORD_URL,
                headers=headers,
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            )
    assert statuses == [400, 400, 400, 429]
    assert right.status_code == 429
