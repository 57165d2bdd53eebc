"""Invariants under races: requests racing for one change make it once and break no rule."""

from collections import Counter
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import User

from .conftest import UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

REFRESH_URL = "/api/v1/auth/refresh"
ME_URL = "/api/v1/users/me"
KEYS_URL = "/api/v1/api-keys"
KEY_CAP = 20
KEY_CAP_ROUNDS = 3
ADMIN_ROUNDS = 10
LAST_ADMIN = {"detail": "At least one active admin must remain"}


async def test_parallel_refreshes_of_one_token_give_exactly_one_working_pair(
    app: Any, make_user: UserFactory
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        tokens = await login(client, user.username)
        body = {"refresh_token": tokens["refresh_token"]}
        answers = await all_at_once([partial(client.post, REFRESH_URL, json=body)] * 8)
        assert Counter(answer.status_code for answer in answers) == {200: 1, 401: 7}
        for answer in answers:
            if answer.status_code == 401:
                assert answer.json() == {"detail": "Invalid refresh token"}
        pair = next(answer.json() for answer in answers if answer.status_code == 200)
        assert (await client.get(ME_URL, headers=bearer(pair))).status_code == 200
        again = await client.post(REFRESH_URL, json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200


async def test_a_repeat_within_the_grace_does_not_end_the_session(
    app: Any, make_user: UserFactory
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        tokens = await login(client, user.username)
        body = {"refresh_token": tokens["refresh_token"]}
        pair = (await client.post(REFRESH_URL, json=body)).json()
        # A network retry of the same rotation, a moment later.
        repeat = await client.post(REFRESH_URL, json=body)
        assert repeat.status_code == 401
        assert (await client.get(ME_URL, headers=bearer(pair))).status_code == 200
        again = await client.post(REFRESH_URL, json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"REFRESH_REUSE_GRACE_SECONDS": 0}])
async def test_a_spent_refresh_token_reused_after_the_grace_ends_the_session(
    app: Any, make_user: UserFactory
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as client:
        tokens = await login(client, user.username)
        body = {"refresh_token": tokens["refresh_token"]}
        pair = (await client.post(REFRESH_URL, json=body)).json()
        assert (await client.post(REFRESH_URL, json=body)).status_code == 401
        assert (await client.get(ME_URL, headers=bearer(pair))).status_code == 401
        again = await client.post(REFRESH_URL, json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 401


async def _active_admins(services: Services) -> int:
    async with services.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active)
        )
    return count or 0


async def _no_admins_left(services: Services) -> None:
    """Start a round from a clean slate: earlier rounds' admins become plain users."""
    async with services.sessionmaker() as session:
        await session.execute(update(User).where(User.role == Role.ADMIN).values(role=Role.USER))
        await session.commit()


# What the admin who loses the race may get instead of 409: the winner's change already
# took its rights (demoted: no admin scope; deactivated: its sessions ended) before its
# own request was authenticated.
@pytest.mark.parametrize(
    ("change", "outrun"),
    [
        ({"role": "user"}, (403, {"detail": "Not enough permissions: requires scope admin"})),
        ({"is_active": False}, (401, {"detail": "Could not validate credentials"})),
    ],
    ids=["demote", "deactivate"],
)
async def test_the_last_two_admins_cannot_remove_each_other_at_once(
    app: Any,
    services: Services,
    make_user: UserFactory,
    change: dict[str, Any],
    outrun: tuple[int, dict[str, str]],
) -> None:
    refusals: list[int] = []
    for round_number in range(ADMIN_ROUNDS):
        await _no_admins_left(services)
        first, second = await make_user(Role.ADMIN), await make_user(Role.ADMIN)
        async with (
            client_from(app, loopback(2 * round_number)) as first_client,
            client_from(app, loopback(2 * round_number + 1)) as second_client,
        ):
            first_headers = bearer(await login(first_client, first.username))
            second_headers = bearer(await login(second_client, second.username))
            answers = await all_at_once(
                [
                    partial(
                        first_client.patch,
                        f"/api/v1/admin/users/{second.id}",
                        headers=first_headers,
                        json=change,
                    ),
                    partial(
                        second_client.patch,
                        f"/api/v1/admin/users/{first.id}",
                        headers=second_headers,
                        json=change,
                    ),
                ]
            )
        codes = sorted(answer.status_code for answer in answers)
        assert codes in ([200, 409], sorted([200, outrun[0]])), f"round {round_number}: {codes}"
        refused = next(answer for answer in answers if answer.status_code != 200)
        expected = LAST_ADMIN if refused.status_code == 409 else outrun[1]
        assert refused.json() == expected
        refusals.append(refused.status_code)
        assert await _active_admins(services) == 1
    # The rule itself was raced, not only authentication.
    assert 409 in refusals, refusals


async def _create_key(
    client: httpx.AsyncClient, headers: dict[str, str], number: int
) -> httpx.Response:
    body = {"name": f"key {number}", "scopes": ["users:read"]}
    return await client.post(KEYS_URL, headers=headers, json=body)


async def test_parallel_key_creation_stops_at_the_cap(app: Any, make_user: UserFactory) -> None:
    crowd = 2 * KEY_CAP
    async with client_from(app, loopback(0)) as client:
        # A few rounds, a fresh user each: a race that is lost only now and then is
        # still lost in one of them.
        for _ in range(KEY_CAP_ROUNDS):
            headers = bearer(await login(client, (await make_user()).username))
            answers = await all_at_once(
                [partial(_create_key, client, headers, number) for number in range(crowd)]
            )
            assert Counter(answer.status_code for answer in answers) == {
                201: KEY_CAP,
                400: crowd - KEY_CAP,
            }
            for answer in answers:
                if answer.status_code == 400:
                    assert answer.json() == {
                        "detail": f"At most {KEY_CAP} API keys per user; revoke one first"
                    }
            listed = await client.get(KEYS_URL, headers=headers)
            assert listed.status_code == 200
            assert len(listed.json()) == KEY_CAP
