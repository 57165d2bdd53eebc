"""Mail to one address is capped per window, whatever route sends it: nobody can flood
someone's inbox by combining verification, reset and address-change mails."""

import asyncio
import time
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, MailBox, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

MAIL_LIMIT = 5
VICTIM = "victim@example.com"
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
    assert await _mails_to(mailbox, VICTIM, at_least=MAIL_LIMIT) == MAIL_LIMIT


async def test_security_notices_count_against_the_mail_cap(
    app: Any, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, user.username))
        for number in range(MAIL_LIMIT + 2):
            body = {"name": f"key {number}", "scopes": ["users:read"]}
            response = await client.post("/api/v1/api-keys", headers=headers, json=body)
            assert response.status_code == 201
    assert await _mails_to(mailbox, user.email, at_least=MAIL_LIMIT) == MAIL_LIMIT
