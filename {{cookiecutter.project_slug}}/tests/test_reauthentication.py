"""Re-authentication: every change to an account's security takes a login session (never
an API key), the password, and with two-factor authentication on, a code; every wrong
password or code is an audit event."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User

from .audit_rows import audit_rows
from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login
from .two_factor import DISABLE_URL, SETUP_URL, code_at, enable_two_factor

ME_URL = "/api/v1/users/me"
PASSWORD_URL = "/api/v1/users/me/password"
KEYS_URL = "/api/v1/api-keys"
NEW_PASSWORD = "a completely new passphrase"
WRONG_PASSWORD = {"detail": "Current password is incorrect"}
CODE_REQUIRED = {"detail": "MFA code required"}
CODE_REFUSED = {"detail": "Invalid or already used MFA code"}
NOT_WITH_A_KEY = {"detail": "This change needs a bearer token or cookie session, not an API key"}
BEARER_ONLY = {"detail": "This endpoint needs a bearer token, not an API key"}


def _reset_url(user_id: object) -> str:
    return f"/api/v1/admin/users/{user_id}/mfa"


@dataclass(frozen=True)
class Change:
    """A route that re-authenticates: its method, path, and body but for the proof."""

    name: str
    method: str
    path: str
    body: dict[str, Any]


def _changes(other_user: object) -> list[Change]:
    return [
        Change("email", "PATCH", ME_URL, {"email": "moved@example.com"}),
        Change("password", "POST", PASSWORD_URL, {"new_password": NEW_PASSWORD}),
        Change("close", "DELETE", ME_URL, {}),
        Change("disable", "POST", DISABLE_URL, {}),
        Change("admin reset", "DELETE", _reset_url(other_user), {}),
    ]


async def _send(
    client: AsyncClient, headers: dict[str, str], change: Change, **proof: str
) -> httpx.Response:
    return await client.request(
        change.method, change.path, headers=headers, json={**change.body, **proof}
    )


async def _key(client: AsyncClient, headers: dict[str, str], scopes: list[str]) -> dict[str, str]:
    created = await client.post(KEYS_URL, headers=headers, json={"name": "ci", "scopes": scopes})
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


async def _admin_and_target(client: AsyncClient, make_user: UserFactory) -> tuple[Any, Any]:
    """An admin with two-factor on, and a user with two-factor on for them to reset."""
    admin, target = await make_user(Role.ADMIN), await make_user()
    await enable_two_factor(client, bearer(await login(client, target.username)))
    return admin, target


async def test_an_api_key_makes_no_security_change(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    admin, target = await _admin_and_target(client, make_user)
    headers = bearer(await login(client, admin.username))
    key = await _key(client, headers, ["users:read", "users:write", "admin"])
    for change in _changes(target.id):
        refused = await _send(client, key, change, current_password=PASSWORD)
        expected = (403, NOT_WITH_A_KEY) if change.name == "email" else (401, BEARER_ONLY)
        assert (refused.status_code, refused.json()) == expected, change.name
    setup = await client.post(SETUP_URL, headers=key, json={"current_password": PASSWORD})
    assert (setup.status_code, setup.json()) == (401, BEARER_ONLY)
    # A key still changes what is not the account's security.
    renamed = await client.patch(ME_URL, headers=key, json={"full_name": "Renamed"})
    assert (renamed.status_code, renamed.json()["full_name"]) == (200, "Renamed")
    me = (await client.get(ME_URL, headers=headers)).json()
    assert me["email"] == admin.email
    async with services.sessionmaker() as db:
        assert (await db.get_one(User, target.id)).mfa_enabled is True


@pytest.mark.parametrize("name", ["email", "password"])
async def test_with_two_factor_on_a_change_needs_a_code(
    client: AsyncClient, make_user: UserFactory, name: str
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    (change,) = [change for change in _changes(None) if change.name == name]

    without = await _send(client, headers, change, current_password=PASSWORD)
    wrong = await _send(client, headers, change, current_password=PASSWORD, code="000000")
    assert (without.status_code, without.json()) == (400, CODE_REQUIRED)
    assert (wrong.status_code, wrong.json()) == (400, CODE_REFUSED)
    assert (await client.get(ME_URL, headers=headers)).json()["email"] == user.email

    code = code_at(enrolment.secret, enrolment.step)
    done = await _send(client, headers, change, current_password=PASSWORD, code=code)
    assert done.status_code in (200, 204), done.text
    if name == "email":
        assert done.json()["email"] == "moved@example.com"
    else:
        relogin = await client.post(
            "/api/v1/auth/token",
            data={
                "username": user.username,
                "password": NEW_PASSWORD,
                "otp": code_at(enrolment.secret, enrolment.step + 1),
            },
        )
        assert relogin.status_code == 200


async def test_an_admin_reset_needs_the_admins_password_and_code(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    admin, target = await _admin_and_target(client, make_user)
    headers = bearer(await login(client, admin.username))
    enrolment = await enable_two_factor(client, headers)
    url = _reset_url(target.id)

    bare = await client.delete(url, headers=headers)
    wrong_password = await client.request(
        "DELETE", url, headers=headers, json={"current_password": "not the password"}
    )
    no_code = await client.request(
        "DELETE", url, headers=headers, json={"current_password": PASSWORD}
    )
    assert bare.status_code == 422
    assert (wrong_password.status_code, wrong_password.json()) == (400, WRONG_PASSWORD)
    assert (no_code.status_code, no_code.json()) == (400, CODE_REQUIRED)
    async with services.sessionmaker() as db:
        assert (await db.get_one(User, target.id)).mfa_enabled is True

    code = code_at(enrolment.secret, enrolment.step)
    reset = await client.request(
        "DELETE", url, headers=headers, json={"current_password": PASSWORD, "code": code}
    )
    assert reset.status_code == 204
    async with services.sessionmaker() as db:
        assert (await db.get_one(User, target.id)).mfa_enabled is False


async def test_an_admin_cannot_reset_their_own_two_factor(
    client: AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.ADMIN)
    headers = bearer(await login(client, admin.username))
    await enable_two_factor(client, headers)
    own = await client.request(
        "DELETE", _reset_url(admin.id), headers=headers, json={"current_password": PASSWORD}
    )
    assert own.status_code == 409
    assert own.json() == {
        "detail": "Use POST /users/me/mfa/totp/disable to turn off your own two-factor "
        "authentication"
    }
    assert (await client.get(ME_URL, headers=headers)).json()["mfa_enabled"] is True


async def test_every_wrong_reauthentication_is_an_audit_event(
    client: AsyncClient, make_user: UserFactory, services: Services, logs: CapturedLogs
) -> None:
    target = await make_user()
    await enable_two_factor(client, bearer(await login(client, target.username)))
    for change in _changes(target.id):
        # A user of their own for each route: rows are bounded per account.
        role = Role.ADMIN if change.name == "admin reset" else Role.USER
        user = await make_user(role)
        headers = bearer(await login(client, user.username))
        await enable_two_factor(client, headers)
        wrong_password = await _send(
            client, headers, change, current_password="not the password", code="000000"
        )
        assert (wrong_password.status_code, wrong_password.json()) == (400, WRONG_PASSWORD)
        wrong_code = await _send(client, headers, change, current_password=PASSWORD, code="000000")
        assert (wrong_code.status_code, wrong_code.json()) == (400, CODE_REFUSED), change.name

        rows = await audit_rows(services, event="reauthentication_failed", user_id=user.id)
        # One row a minute per account; the log has every one.
        assert [row.details for row in rows] == [{"factor": "password"}], change.name
        logged = [
            line["fields"]
            for line in logs.events("reauthentication_failed")
            if line["fields"]["user_id"] == str(user.id)
        ]
        assert logged == [
            {"user_id": str(user.id), "factor": "password"},
            {"user_id": str(user.id), "factor": "code"},
        ], change.name
    assert "not the password" not in logs.text
