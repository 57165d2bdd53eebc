"""Security mail: each change to how an account is held mails its address one notice,
after the change committed, with nothing secret in it. Mail goes to a real SMTP server."""

from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from httpx import AsyncClient

from {{ cookiecutter.project_slug }}.security.scopes import Role

from .conftest import PASSWORD, MailBox, UserFactory, bearer, login
from .two_factor import DISABLE_URL, code_at, enable_two_factor

ME_URL = "/api/v1/users/me"
NEW_PASSWORD = "a completely new passphrase"
SUPPORT = "security@example.com"
WRONG_PASSWORD = "not the password at all"


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return {**smtp_settings, "SUPPORT_EMAIL": SUPPORT}


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    body = message.get_body(preferencelist=("html",))
    assert text is not None
    assert body is not None
    return str(text.get_content()), str(body.get_content())


def _notice(mailbox: MailBox, to: str, subject: str, *secrets: str) -> str:
    """The one mail to `to`, checked: its subject, both parts, none of `secrets` in it
    (raw or decoded). Returns its text."""
    (message,) = [message for message in mailbox.messages if message["To"] == to]
    assert message["Subject"] == subject
    text, body = _parts(message)
    assert text.strip()
    assert body.startswith("<p>")
    for secret in secrets:
        assert secret not in message.as_string()
        assert secret not in text
        assert secret not in body
    return text


async def _delete(client: AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    return await client.request("DELETE", url, headers=headers, json={"current_password": PASSWORD})


async def test_a_password_change_mails_a_notice(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    response = await client.post(
        f"{ME_URL}/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204
    assert len(mailbox.messages) == 1
    text = _notice(
        mailbox,
        user.email,
        "Your Secure API password was changed",
        PASSWORD,
        NEW_PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
    )
    assert user.username in text
    assert "request a password reset" in text


async def test_a_password_reset_mails_a_notice_without_the_link(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    requested = await client.post("/api/v1/auth/password-reset/request", json={"email": user.email})
    assert requested.status_code == 202
    token = mailbox.link_token()
    confirmed = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 200
    assert len(mailbox.messages) == 2
    mailbox.messages.pop(0)
    _notice(mailbox, user.email, "Your Secure API password was reset", token, NEW_PASSWORD)


async def test_an_email_change_notice_goes_to_the_old_address(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    new_email = f"moved-{user.username}@example.com"
    response = await client.patch(
        ME_URL,
        headers=bearer(await login(client, user.username)),
        json={"email": new_email, "current_password": PASSWORD},
    )
    assert response.status_code == 200
    assert sorted(message["To"] for message in mailbox.messages) == sorted([user.email, new_email])
    verification = next(message for message in mailbox.messages if message["To"] == new_email)
    assert "Verify your email" in verification["Subject"]
    text = _notice(
        mailbox,
        user.email,
        "Your Secure API email address was changed",
        PASSWORD,
        mailbox.link_token(mailbox.messages.index(verification)),
    )
    # The old owner learns why a reset will not help them, and whom to write to; the
    # new address stays with whoever set it.
    assert "password reset links included, now goes to the new one" in text
    assert f"write to {SUPPORT}" in text
    assert new_email not in text


async def test_turning_two_factor_on_and_off_mails_a_notice_each(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    secrets = [
        enrolment.secret,
        *enrolment.recovery_codes,
        code_at(enrolment.secret, enrolment.step - 1),
    ]
    subject = "Two-factor authentication was turned on for Secure API"
    _notice(mailbox, user.email, subject, PASSWORD, *secrets)
    disable_code = code_at(enrolment.secret, enrolment.step)
    off = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": PASSWORD, "code": disable_code}
    )
    assert off.status_code == 204
    assert len(mailbox.messages) == 2
    mailbox.messages.pop(0)
    subject = "Two-factor authentication was turned off for Secure API"
    _notice(mailbox, user.email, subject, PASSWORD, disable_code, *secrets)


async def test_an_admin_two_factor_reset_mails_the_user(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    admin, user = await make_user(Role.ADMIN), await make_user()
    enrolment = await enable_two_factor(client, bearer(await login(client, user.username)))
    mailbox.messages.clear()
    admin_headers = bearer(await login(client, admin.username))
    reset = await _delete(client, f"/api/v1/admin/users/{user.id}/mfa", admin_headers)
    assert reset.status_code == 204
    assert len(mailbox.messages) == 1
    subject = "An administrator turned off two-factor authentication for Secure API"
    _notice(mailbox, user.email, subject, enrolment.secret, *enrolment.recovery_codes)


async def test_a_new_api_key_is_named_by_its_prefix_only(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    name = "Visit https://evil.example to cancel this key"
    created = await client.post(
        "/api/v1/api-keys",
        headers=bearer(await login(client, user.username)),
        json={"name": name, "scopes": ["users:read"]},
    )
    assert created.status_code == 201
    key = created.json()["key"]
    subject = "A new API key was added to your Secure API account"
    text = _notice(mailbox, user.email, subject, key, key[len(created.json()["prefix"]) :])
    # The prefix is what lists show; the name is whatever the key's creator wrote.
    assert created.json()["prefix"] in text
    assert "evil.example" not in text


async def test_closing_the_account_mails_the_address_it_had(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    closed = await _delete(client, ME_URL, bearer(await login(client, user.username)))
    assert closed.status_code == 204
    assert len(mailbox.messages) == 1
    text = _notice(mailbox, user.email, "Your Secure API account was deleted", PASSWORD)
    assert "cannot be undone" in text


async def test_a_change_that_fails_mails_nothing(
    client: AsyncClient, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    wrong = {"current_password": WRONG_PASSWORD}
    refused = [
        await client.post(
            f"{ME_URL}/password", headers=headers, json={**wrong, "new_password": NEW_PASSWORD}
        ),
        await client.patch(ME_URL, headers=headers, json={**wrong, "email": "x@example.com"}),
        await client.post(
            "/api/v1/users/me/mfa/totp/confirm", headers=headers, json={"code": "000000"}
        ),
        await client.post(DISABLE_URL, headers=headers, json={**wrong, "code": "000000"}),
        await client.request("DELETE", ME_URL, headers=headers, json=wrong),
        await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": "not-a-token", "new_password": NEW_PASSWORD},
        ),
    ]
    assert all(400 <= response.status_code < 500 for response in refused), [
        response.text for response in refused
    ]
    assert (await client.get(ME_URL, headers=headers)).json()["email"] == user.email
    assert mailbox.messages == []
