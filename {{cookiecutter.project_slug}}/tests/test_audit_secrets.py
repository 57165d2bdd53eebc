"""No password, token, key or link code reaches the audit trail, whatever a user does;
and a password reset is kept, asked for and done."""

import json
from typing import Any

import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services

from .audit_rows import audit_rows, listed_events
from .conftest import PASSWORD, MailBox, UserFactory, bearer, login

RESET_PASSWORD = "a completely new passphrase"
CHANGED_PASSWORD = "yet another new passphrase"
RESET_REQUEST_URL = "/api/v1/auth/password-reset/request"
RESET_CONFIRM_URL = "/api/v1/auth/password-reset/confirm"


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return smtp_settings


async def _reset(client: AsyncClient, mailbox: MailBox, email: str, new_password: str) -> str:
    """Reset the password through the mailed link; the link's token."""
    requested = await client.post(RESET_REQUEST_URL, json={"email": email})
    assert requested.status_code == 202
    token = mailbox.link_token()
    confirmed = await client.post(
        RESET_CONFIRM_URL, json={"token": token, "new_password": new_password}
    )
    assert confirmed.status_code == 200, confirmed.text
    return token


async def test_a_password_reset_is_kept_as_asked_for_and_as_done(
    client: AsyncClient, services: Services, mailbox: MailBox, make_user: UserFactory
) -> None:
    user = await make_user()
    await _reset(client, mailbox, user.email, RESET_PASSWORD)
    rows = await audit_rows(services, user_id=user.id)
    assert [row.event for row in rows] == ["password_reset_requested", "password_reset"]
    assert {row.ip_address for row in rows} == {"127.0.0.1"}


async def test_no_secret_of_a_users_account_reaches_the_audit_trail(
    client: AsyncClient, services: Services, mailbox: MailBox, make_user: UserFactory
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    secrets = [PASSWORD, RESET_PASSWORD, CHANGED_PASSWORD]
    # A password typed where the username goes, as people do.
    typo = await client.post("/api/v1/auth/token", data={"username": PASSWORD, "password": "x"})
    assert typo.status_code == 401
    tokens = await login(client, user.username)
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    created = await client.post(
        "/api/v1/api-keys",
        headers=bearer(refreshed.json()),
        json={"name": "ci", "scopes": ["users:read"]},
    )
    assert created.status_code == 201
    secrets += [tokens["access_token"], tokens["refresh_token"], created.json()["key"]]
    secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    secrets.append(await _reset(client, mailbox, user.email, RESET_PASSWORD))
    after_reset = await login(client, user.username, RESET_PASSWORD)
    changed = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(after_reset),
        json={"current_password": RESET_PASSWORD, "new_password": CHANGED_PASSWORD},
    )
    assert changed.status_code == 204
    secrets += [after_reset["access_token"], after_reset["refresh_token"]]

    page = await listed_events(client, bearer(await login(client, admin.username)), limit=100)
    listed = json.dumps(page)
    stored = json.dumps(
        [
            [row.event, row.ip_address, row.request_id, row.details]
            for row in await audit_rows(services)
        ]
    )

    # The scan covers every kind of event the steps above write.
    assert {item["event"] for item in page["items"]} >= {
        "login_failed",
        "login_succeeded",
        "api_key_created",
        "password_reset_requested",
        "password_reset",
        "password_changed",
    }
    assert page["total"] == len(page["items"])
    for secret in secrets:
        assert secret not in listed
        assert secret not in stored
    # The password typed as a username shows no more than the log would.
    (typo_row,) = [item for item in page["items"] if item["details"].get("login")]
    assert typo_row["details"]["login"] == f"{PASSWORD[:2]}…[{len(PASSWORD)}]"
