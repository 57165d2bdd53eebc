"""Writes racing their account's deletion answer 401, 404 or 409, never 500: a request
authenticated just before the account was closed may still be writing when its row goes.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

ME_URL = "/api/v1/users/me"
WRITERS = 40
# Each writer writes again and again until the account is gone, a few times at most.
WRITES_PER_WRITER = 5
# What a write racing the deletion may answer: done before it, or refused after.
ALLOWED = {200, 201, 204, 401, 404, 409}
# In every value written: the statements' parameters, which no log line may show.
MARK = "racing-write"

Write = Callable[[httpx.AsyncClient, dict[str, str], int], Awaitable[list[httpx.Response]]]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Every writer reaches its write: none is limited or shed.
    return {"RATE_LIMIT_DEFAULT": "10000/minute", "PASSWORD_HASH_QUEUE": 10_000}


async def _create_and_revoke_key(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[httpx.Response]:
    # Revoked at once, so the writers never reach the cap on active keys.
    body = {"name": f"{MARK} {n}", "scopes": ["users:read"]}
    created = await client.post("/api/v1/api-keys", headers=headers, json=body)
    if created.status_code != 201:
        return [created]
    revoked = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=headers)
    return [created, revoked]


async def _rename(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[httpx.Response]:
    return [await client.patch(ME_URL, headers=headers, json={"full_name": f"{MARK} {n}"})]


async def _start_totp(
    client: httpx.AsyncClient, headers: dict[str, str], _n: int
) -> list[httpx.Response]:
    body = {"current_password": PASSWORD}
    return [await client.post("/api/v1/users/me/mfa/totp", headers=headers, json=body)]


WRITES: list[Write] = [_create_and_revoke_key, _rename, _start_totp]


async def test_writes_racing_the_accounts_deletion_never_answer_500(
    app: Any, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    async with client_from(app, loopback(WRITERS)) as client:
        headers = bearer(await login(client, user.username))
    deleted = asyncio.Event()
    answers: list[httpx.Response] = []

    async def _close() -> httpx.Response:
        async with client_from(app, loopback(WRITERS)) as closer:
            body = {"current_password": PASSWORD}
            closed = await closer.request("DELETE", ME_URL, headers=headers, json=body)
        deleted.set()
        return closed

    async def _writer(number: int) -> None:
        write = WRITES[number % len(WRITES)]
        async with client_from(app, loopback(number)) as writer:
            for attempt in range(WRITES_PER_WRITER):
                answers.extend(await write(writer, headers, number * WRITES_PER_WRITER + attempt))
                if deleted.is_set():
                    return

    calls: list[Callable[[], Awaitable[Any]]] = [_close]
    calls += [partial(_writer, number) for number in range(WRITERS)]
    closed, *_ = await all_at_once(calls)

    assert closed.status_code == 204
    statuses = Counter(answer.status_code for answer in answers)
    refused = {answer.text for answer in answers if answer.status_code not in ALLOWED}
    assert set(statuses) <= ALLOWED, (statuses, refused)
    assert statuses[401] > 0, statuses
    assert MARK not in logs.text
