import bcrypt
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import {% if cookiecutter.multi_tenancy == "yes" %}OrganizationRole, Role, allowed_scopes{% else %}ROLE_SCOPES, Role{% endif %}, format_scope
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User

from .conftest import PASSWORD, UserFactory, bearer, login

TOKEN_URL = "/api/v1/auth/token"


async def test_login_returns_a_bearer_pair_with_the_roles_scopes(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.USER)
    body = await login(client, user.username)
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["scope"] == {% if cookiecutter.multi_tenancy == "yes" %}format_scope(allowed_scopes(Role.USER, OrganizationRole.MEMBER)){% else %}format_scope(ROLE_SCOPES[Role.USER]){% endif %}


async def test_login_accepts_the_email_in_any_case(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    body = await login(client, user.email.upper())
    me = await client.get("/api/v1/users/me", headers=bearer(body))
    assert me.json()["id"] == str(user.id)


async def test_login_grants_only_asked_scopes_the_role_allows(
    client: AsyncClient, make_user: UserFactory
) -> None:
    guest = await make_user(Role.GUEST)
    body = await login(client, guest.username, scope="users:read users:write admin")
    assert body["scope"] == "users:read"


async def test_wrong_password_and_unknown_user_get_the_same_401(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    wrong = await client.post(TOKEN_URL, data={"username": user.username, "password": "x" * 12})
    unknown = await client.post(TOKEN_URL, data={"username": "nobody", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == {"detail": "Incorrect username or password"}
        assert response.headers["www-authenticate"] == "Bearer"


async def test_overlong_credentials_are_refused_without_lookup(client: AsyncClient) -> None:
    response = await client.post(TOKEN_URL, data={"username": "u" * 300, "password": "p" * 5000})
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}


async def test_inactive_user_cannot_log_in(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    async with services.sessionmaker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        await session.commit()
    response = await client.post(TOKEN_URL, data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert response.json() == {"detail": "Inactive user"}


async def test_legacy_bcrypt_hash_is_upgraded_to_argon2id_on_login(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with services.sessionmaker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.hashed_password = legacy
        await session.commit()
    await login(client, user.username)
    async with services.sessionmaker() as session:
        upgraded = await session.get(User, user.id)
        assert upgraded is not None
        assert upgraded.hashed_password.startswith("$argon2id$")


async def test_login_without_form_fields_is_422(client: AsyncClient) -> None:
    response = await client.post(TOKEN_URL, data={"username": "someone"})
    assert response.status_code == 422
