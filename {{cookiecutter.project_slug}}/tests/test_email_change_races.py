"""An address change racing the account's deletion: the old address still hears of the
change, and a verification link for an account that is gone is quietly not issued,
never an unhandled error."""

import asyncio
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, CapturedLogs, MailBox, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

ME_URL = "/api/v1/users/me"
EMAIL_CHANGED = "Your Secure API email address was changed"
# Races run, the deletion sent a step later in each: a sweep across the moment between
# the change's commit and its link, which some round lands in.
ROUNDS = 24
DELAY_STEP_SECONDS = 0.001


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    # Every request reaches its password check: none is limited or shed.
    return {**smtp_settings, "RATE_LIMIT_LOGIN": "1000/minute", "PASSWORD_HASH_QUEUE": 10_000}


async def _move(app: Any, headers: dict[str, str], email: str) -> httpx.Response:
    async with client_from(app, loopback(1)) as client:
        body = {"email": email, "current_password": PASSWORD}
        return await client.patch(ME_URL, headers=headers, json=body)


async def _close(app: Any, headers: dict[str, str], delay: float) -> httpx.Response:
    await asyncio.sleep(delay)
    async with client_from(app, loopback(2)) as client:
        body = {"current_password": PASSWORD}
        return await client.request("DELETE", ME_URL, headers=headers, json=body)


async def test_an_email_change_racing_deletion_still_tells_the_old_address(
    app: Any, make_user: UserFactory, mailbox: MailBox, logs: CapturedLogs
) -> None:
    moved_from: list[str] = []
    for number in range(ROUNDS):
        user = await make_user()
        async with client_from(app, loopback(0)) as client:
            headers = bearer(await login(client, user.username))
        moved, closed = await all_at_once(
            [
                partial(_move, app, headers, f"moved-{user.username}@example.com"),
                partial(_close, app, headers, number * DELAY_STEP_SECONDS),
            ]
        )
        assert closed.status_code == 204
        assert moved.status_code in {200, 401, 404, 409}, moved.text
        if moved.status_code == 200:
            moved_from.append(user.email)
    notified = [
        message["To"] for message in mailbox.messages if message["Subject"] == EMAIL_CHANGED
    ]
    assert sorted(notified) == sorted(moved_from)
    assert not [line for line in logs.lines() if line["message"] == "unhandled error"]
    # The race this test is about happened at least once.
    gone = [line for line in logs.lines() if line["message"].startswith("link not issued")]
    assert gone, "no deletion landed between an address change and its link"
