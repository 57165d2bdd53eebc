"""Limits hold for requests sent all at once: a guess is counted before its password is
checked, so a crowd checks at most the limit's worth; and only an authenticated caller's
budget is charged to that caller."""

from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback, retry_after, served_client_from
from .processes import served_app, served_environment

TOKEN_URL = "/api/v1/auth/token"
ME_URL = "/api/v1/users/me"
LOGIN_LIMIT = 5
DEFAULT_LIMIT = 100
CROWD = 40
WAVE = 10
COSTLY_HASHES = {"ARGON2_MEMORY_COST": 8192, "ARGON2_TIME_COST": 2}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "RATE_LIMIT_LOGIN": f"{LOGIN_LIMIT}/minute",
        "RATE_LIMIT_DEFAULT": f"{DEFAULT_LIMIT}/minute",
        # Checks that take as long as real ones: a crowd arrives while the first are running.
        **COSTLY_HASHES,
    }


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    env = served_environment(db_url, RATE_LIMIT_LOGIN=f"{LOGIN_LIMIT}/minute")
    with served_app(tmp_path, env) as base_url:
        yield base_url


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many requests")
    retry_after(response)


async def _login_from(base_url: str, address: str, username: str, password: str) -> httpx.Response:
    async with served_client_from(base_url, address) as client:
        return await client.post(TOKEN_URL, data={"username": username, "password": password})


async def test_parallel_guesses_from_many_addresses_check_one_accounts_limit(
    server: str,
) -> None:
    guesses = [
        partial(_login_from, server, loopback(number), "admin", f"wrong guess {number}")
        for number in range(CROWD)
    ]
    answers = await all_at_once(guesses)
    assert Counter(answer.status_code for answer in answers) == {
        401: LOGIN_LIMIT,
        429: CROWD - LOGIN_LIMIT,
    }
    for answer in answers:
        if answer.status_code == 401:
            assert answer.json() == {"detail": "Incorrect username or password"}
        else:
            _assert_limited(answer)
    # One budget per account, whichever of its names is typed: the right password,
    # given as the first admin's email from a fresh address, is refused too.
    by_email = await _login_from(server, loopback(CROWD), "root@example.com", PASSWORD)
    _assert_limited(by_email)


async def test_every_login_attempt_counts_against_the_account_budget(
    app: Any, make_user: UserFactory
) -> None:
    user = await make_user()

    async def _log_in(address: str) -> httpx.Response:
        async with client_from(app, address) as client:
            form = {"username": user.username, "password": PASSWORD}
            return await client.post(TOKEN_URL, data=form)

    extra = 3
    answers = await all_at_once(
        [partial(_log_in, loopback(number)) for number in range(LOGIN_LIMIT + extra)]
    )
    assert Counter(answer.status_code for answer in answers) == {200: LOGIN_LIMIT, 429: extra}
    for answer in answers:
        if answer.status_code == 429:
            _assert_limited(answer)


async def test_parallel_wrong_current_passwords_check_at_most_the_limit(
    app: Any, make_user: UserFactory
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        headers = bearer(await login(client, user.username))
        changes = [
            partial(
                client.post,
                "/api/v1/users/me/password",
                headers=headers,
                json={
                    "current_password": f"wrong guess {number:04d}",
                    "new_password": "an entirely different passphrase",
                },
            )
            for number in range(CROWD)
        ]
        answers = await all_at_once(changes)
        assert Counter(answer.status_code for answer in answers) == {
            400: LOGIN_LIMIT,
            429: CROWD - LOGIN_LIMIT,
        }
        for answer in answers:
            if answer.status_code == 400:
                assert answer.json() == {"detail": "Current password is incorrect"}
            else:
                _assert_limited(answer)
        # The guesses changed nothing: this login still works.
        assert (await client.get(ME_URL, headers=headers)).status_code == 200


async def test_a_logged_out_token_is_charged_to_its_address_not_its_user(
    app: Any, make_user: UserFactory
) -> None:
    owner = await make_user()
    async with client_from(app, loopback(0)) as thief, client_from(app, loopback(1)) as own:
        stolen = bearer(await login(thief, owner.username))
        assert (await thief.post("/api/v1/auth/logout", headers=stolen)).status_code == 204
        extra = 10
        answers: list[httpx.Response] = []
        # Ten at a time: whose budget pays is the point here, bursts are the flood test's.
        for _ in range((DEFAULT_LIMIT + extra) // WAVE):
            answers += await all_at_once([partial(thief.get, ME_URL, headers=stolen)] * WAVE)
        assert Counter(answer.status_code for answer in answers) == {
            401: DEFAULT_LIMIT,
            429: extra,
        }
        for answer in answers:
            if answer.status_code == 429:
                _assert_limited(answer)
        fresh = bearer(await login(own, owner.username))
        me = await own.get(ME_URL, headers=fresh)
    assert me.status_code == 200
    assert me.json()["id"] == str(owner.id)
