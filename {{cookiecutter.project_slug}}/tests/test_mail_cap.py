"""Link mails to one address are capped per window, whatever route sends them: nobody can
flood someone's inbox by combining verification, reset and address-change mails. "API
key added" notices have a budget of their own, and the other security notices none, so
no flood of mail can silence the notice of a change an intruder made."""

import asyncio
import time
from collections import Counter
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, MailBox, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

MAIL_LIMIT = 5
VICTIM = "victim@example.com"
NEW_PASSWORD = "a completely new passphrase"
ME_URL = "/api/v1/users/me"
KEYS_URL = "/api/v1/api-keys"
RESET_REQUEST_URL = "/api/v1/auth/password-reset/request"
RESET_CONFIRM_URL = "/api/v1/auth/password-reset/confirm"
KEY_ADDED = "A new API key was added to your Secure API account"
PASSWORD_CHANGED = "Your Secure API password was changed"
PASSWORD_RESET = "Your Secure API password was reset"
EMAIL_CHANGED = "Your Secure API email address was changed"
RESET_LINK = "Reset your password for Secure API"
VERIFY_LINK = "Verify your email address for Secure API"
# Fewer than MAIL_LIMIT reset links, more than MAIL_LIMIT mails with their notices.
RESETS = 4
# Mail goes out after the response: how long to wait for it, and for stragglers after.
MAIL_WAIT_SECONDS = 10.0
SETTLE_SECONDS = 0.5


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return {**smtp_settings, "RATE_LIMIT_LOGIN": f"{MAIL_LIMIT}/minute"}


async def _anonymous_post(app: Any, address: str, url: str) -> httpx.Response:
    async with client_from(app, address) as client:
        return await client.post(url, json={"email": VICTIM})


async def _mails_to(mailbox: MailBox, address: str, at_least: int) -> int:
    """How many mails `address` has got, counted once `at_least` have arrived (or the
    wait ran out) and again a moment later, so that late ones count too."""
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while time.monotonic() < deadline:
        if sum(message["To"] == address for message in mailbox.messages) >= at_least:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE_SECONDS)
    return sum(message["To"] == address for message in mailbox.messages)


async def test_mail_to_one_address_is_capped_across_routes(
    app: Any, make_user: UserFactory, mailbox: MailBox
) -> None:
    sender = await make_user()
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, sender.username))

        async def _point_email_at(email: str) -> None:
            change = {"email": email, "current_password": PASSWORD}
            response = await client.patch("/api/v1/users/me", headers=headers, json=change)
            assert response.status_code == 200
            assert response.json()["email"] == email

        # A verification link to the victim; then every anonymous route that mails
        # them, from addresses that each stay within their own limit; then notices to
        # the victim as the old address, alternating with fresh verification links.
        await _point_email_at(VICTIM)
        anonymous = [
            partial(_anonymous_post, app, loopback(1 + number), url)
            for number in range(MAIL_LIMIT)
            for url in ("/api/v1/auth/verify-email/resend", "/api/v1/auth/password-reset/request")
        ]
        answers = await all_at_once(anonymous)
        assert [answer.status_code for answer in answers] == [202] * len(anonymous)
        for email in (sender.email, VICTIM, sender.email):
            await _point_email_at(email)
    # The links are capped; the two notices that the address was left are not.
    assert await _mails_to(mailbox, VICTIM, at_least=MAIL_LIMIT + 2) == MAIL_LIMIT + 2
    assert _subjects(mailbox, VICTIM)[EMAIL_CHANGED] == 2


def _subjects(mailbox: MailBox, address: str) -> Counter[str]:
    return Counter(
        str(message["Subject"]) for message in mailbox.messages if message["To"] == address
    )


async def _add_keys(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> None:
    for number in range(count):
        body = {"name": f"key {number}", "scopes": ["users:read"]}
        response = await client.post(KEYS_URL, headers=headers, json=body)
        assert response.status_code == 201


async def test_api_key_notices_cannot_silence_the_password_and_email_notices(
    app: Any, make_user: UserFactory, mailbox: MailBox
) -> None:
    # The attack: spend the address's budget on "API key added" notices, then change the
    # password and move the account to another address.
    user = await make_user()
    new_email = f"moved-{user.username}@example.com"
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, user.username))
        await _add_keys(client, headers, MAIL_LIMIT)
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        changed = await client.post(f"{ME_URL}/password", headers=headers, json=change)
        assert changed.status_code == 204
        move = {"email": new_email, "current_password": NEW_PASSWORD}
        moved = await client.patch(ME_URL, headers=headers, json=move)
        assert moved.status_code == 200
    assert await _mails_to(mailbox, user.email, at_least=MAIL_LIMIT + 2) == MAIL_LIMIT + 2
    assert _subjects(mailbox, user.email) == {
        KEY_ADDED: MAIL_LIMIT,
        PASSWORD_CHANGED: 1,
        EMAIL_CHANGED: 1,
    }
    assert _subjects(mailbox, new_email) == {VERIFY_LINK: 1}


async def test_every_password_reset_mails_its_notice(
    app: Any, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    for number in range(RESETS):
        # Each round from an address of its own, within the /auth limit per address; a
        # spent link does not hold back the next one (one link a minute while it is live).
        async with client_from(app, loopback(number)) as client:
            requested = await client.post(RESET_REQUEST_URL, json={"email": user.email})
            assert requested.status_code == 202
            assert mailbox.messages[-1]["Subject"] == RESET_LINK
            reset = {"token": mailbox.link_token(), "new_password": f"{NEW_PASSWORD} {number}"}
            confirmed = await client.post(RESET_CONFIRM_URL, json=reset)
            assert confirmed.status_code == 200
    assert await _mails_to(mailbox, user.email, at_least=2 * RESETS) == 2 * RESETS
    assert [str(message["Subject"]) for message in mailbox.messages] == [
        RESET_LINK,
        PASSWORD_RESET,
    ] * RESETS


async def test_api_key_notices_are_capped_apart_from_other_mail(
    app: Any, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, user.username))
        await _add_keys(client, headers, 3 * MAIL_LIMIT)
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        changed = await client.post(f"{ME_URL}/password", headers=headers, json=change)
        assert changed.status_code == 204
    async with client_from(app, loopback(1)) as client:
        requested = await client.post(RESET_REQUEST_URL, json={"email": user.email})
        assert requested.status_code == 202
    assert await _mails_to(mailbox, user.email, at_least=MAIL_LIMIT + 2) == MAIL_LIMIT + 2
    assert _subjects(mailbox, user.email) == {
        KEY_ADDED: MAIL_LIMIT,
        PASSWORD_CHANGED: 1,
        RESET_LINK: 1,
    }
