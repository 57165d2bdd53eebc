"""DELETE /users/me: a user closes their own account, proving it is them, and nothing of
it keeps working; the last active admin cannot go."""

from functools import partial
from typing import Any

import httpx
from httpx import AsyncClient
from sqlalchemy import func, select, update

from {{ cookiecutter.project_slug }}.api_keys.models import ApiKey
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User, UserSession

from .audit_rows import audit_rows
from .conftest import PASSWORD, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback
from .two_factor import code_at, enable_two_factor

ME_URL = "/api/v1/users/me"
LAST_ADMIN = {"detail": "At least one active admin must remain"}
ROUNDS = 5


async def _close(client: AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.request("DELETE", ME_URL, headers=headers, json=body)


async def _rows(services: Services, model: Any, user_id: Any) -> int:
    owner = model.owner_id if hasattr(model, "owner_id") else model.user_id
    async with services.sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(model).where(owner == user_id)) or 0


async def test_a_closed_account_is_gone_with_everything_it_owned(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    other_login = await login(client, user.username)
    headers = bearer(tokens)
    key = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:read"]}
    )
    assert key.status_code == 201
    assert (await client.get(ME_URL, headers={"X-API-Key": key.json()["key"]})).status_code == 200

    closed = await _close(client, headers, current_password=PASSWORD)

    assert closed.status_code == 204
    assert (await client.get(ME_URL, headers=headers)).status_code == 401
    assert (await client.get(ME_URL, headers=bearer(other_login))).status_code == 401
    assert (await client.get(ME_URL, headers={"X-API-Key": key.json()["key"]})).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    relogin = await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    assert relogin.status_code == 401
    async with services.sessionmaker() as db:
        assert await db.get(User, user.id) is None
    for model in (ApiKey, UserSession):
        assert await _rows(services, model, user.id) == 0, model.__name__
    # The trail outlives the account.
    (deleted,) = await audit_rows(services, event="account_deleted")
    assert (deleted.user_id, deleted.actor_id, deleted.details) == (user.id, None, {})


async def test_a_wrong_password_closes_nothing(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    refused = await _close(client, headers, current_password=PASSWORD + "x")
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "Current password is incorrect"},
    )
    assert (await client.get(ME_URL, headers=headers)).status_code == 200
    assert await audit_rows(services, event="account_deleted") == []


async def test_with_two_factor_on_closing_needs_a_code(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)

    without = await _close(client, headers, current_password=PASSWORD)
    wrong = await _close(client, headers, current_password=PASSWORD, code="000000")
    assert (without.status_code, without.json()) == (400, {"detail": "MFA code required"})
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"detail": "Invalid or already used MFA code"},
    )
    assert (await client.get(ME_URL, headers=headers)).status_code == 200

    code = code_at(enrolment.secret, enrolment.step)
    closed = await _close(client, headers, current_password=PASSWORD, code=code)
    assert closed.status_code == 204


async def test_an_api_key_cannot_close_its_account(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    key = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:write"]}
    )
    refused = await _close(client, {"X-API-Key": key.json()["key"]}, current_password=PASSWORD)
    assert refused.status_code == 401
    assert (await client.get(ME_URL, headers=headers)).status_code == 200


async def test_the_last_admin_cannot_close_their_account(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    async with services.sessionmaker() as db:
        await db.execute(update(User).where(User.role == Role.ADMIN).values(role=Role.USER))
        await db.commit()
    admin = await make_user(Role.ADMIN)
    headers = bearer(await login(client, admin.username))
    refused = await _close(client, headers, current_password=PASSWORD)
    assert (refused.status_code, refused.json()) == (409, LAST_ADMIN)
    assert (await client.get(ME_URL, headers=headers)).status_code == 200


async def test_of_two_admins_closing_at_once_one_remains(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    for round_number in range(ROUNDS):
        async with services.sessionmaker() as db:
            await db.execute(update(User).where(User.role == Role.ADMIN).values(role=Role.USER))
            await db.commit()
        first, second = await make_user(Role.ADMIN), await make_user(Role.ADMIN)
        async with (
            client_from(app, loopback(2 * round_number)) as first_client,
            client_from(app, loopback(2 * round_number + 1)) as second_client,
        ):
            first_headers = bearer(await login(first_client, first.username))
            second_headers = bearer(await login(second_client, second.username))
            answers = await all_at_once(
                [
                    partial(_close, first_client, first_headers, current_password=PASSWORD),
                    partial(_close, second_client, second_headers, current_password=PASSWORD),
                ]
            )
        assert sorted(answer.status_code for answer in answers) == [204, 409], round_number
        (refused,) = [answer for answer in answers if answer.status_code == 409]
        assert refused.json() == LAST_ADMIN
        async with services.sessionmaker() as db:
            admins = await db.scalar(
                select(func.count()).select_from(User).where(User.role == Role.ADMIN)
            )
        assert admins == 1, round_number
