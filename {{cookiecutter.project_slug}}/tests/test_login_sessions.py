"""A user's own login sessions over HTTP: the list, and ending one of them."""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import update

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.security.clients import MAX_USER_AGENT_LENGTH
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import UserSession

from .conftest import PASSWORD, CapturedLogs, UserFactory, bearer, login
from .crowd import all_at_once, client_from

SESSIONS_URL = "/api/v1/users/me/sessions"
ME_URL = "/api/v1/users/me"
REFRESH_URL = "/api/v1/auth/refresh"
FIELDS = {"id", "created_at", "last_used_at", "user_agent", "ip_address", "current"}

ClientFrom = Callable[[str], AsyncClient]


@pytest.fixture
async def client_at(app: Any) -> AsyncIterator[ClientFrom]:
    """Clients of the app whose requests come from the addresses given."""
    opened: list[AsyncClient] = []

    def _client_at(address: str) -> AsyncClient:
        opened.append(client_from(app, address))
        return opened[-1]

    yield _client_at
    for http in opened:
        await http.aclose()


async def _sessions(client: AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get(SESSIONS_URL, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def _session_id(client: AsyncClient, tokens: dict[str, Any]) -> str:
    """The id of the session `tokens` belong to, as its owner's list shows it."""
    (current,) = [row for row in await _sessions(client, tokens) if row["current"]]
    session_id: str = current["id"]
    return session_id


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _end(client: AsyncClient, tokens: dict[str, Any], session_id: str) -> int:
    response = await client.delete(f"{SESSIONS_URL}/{session_id}", headers=bearer(tokens))
    return response.status_code


async def test_the_list_shows_each_login_newest_first_and_marks_the_callers_one(
    client: AsyncClient, client_at: ClientFrom, make_user: UserFactory
) -> None:
    user, stranger = await make_user(), await make_user()
    laptop, phone = client_at("127.0.2.1"), client_at("127.0.2.2")
    laptop.headers["User-Agent"] = "Firefox/133.0 (X11; Linux x86_64)"
    phone.headers["User-Agent"] = "MyApp/2.1 (iPhone)"
    older = await login(laptop, user.username)
    newer = await login(phone, user.username)
    await login(client, stranger.username)

    response = await laptop.get(SESSIONS_URL, headers=bearer(older))

    listed = response.json()
    assert [set(row) for row in listed] == [FIELDS, FIELDS]
    assert [(row["ip_address"], row["user_agent"], row["current"]) for row in listed] == [
        ("127.0.2.2", "MyApp/2.1 (iPhone)", False),
        ("127.0.2.1", "Firefox/133.0 (X11; Linux x86_64)", True),
    ]
    assert _time(listed[0]["created_at"]) > _time(listed[1]["created_at"])
    assert listed[0]["id"] == await _session_id(phone, newer)
    for secret in (older, newer):
        assert secret["access_token"] not in response.text
        assert secret["refresh_token"] not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_a_cookie_login_is_listed_with_its_address_and_marked_current(
    client_at: ClientFrom, make_user: UserFactory
) -> None:
    user = await make_user()
    browser = client_at("127.0.2.3")
    browser.headers["User-Agent"] = "Chromium/131"
    logged_in = await browser.post(
        "/api/v1/auth/cookie/login", data={"username": user.username, "password": PASSWORD}
    )
    assert logged_in.status_code == 200

    listed = (await browser.get(SESSIONS_URL)).json()

    assert [(row["ip_address"], row["user_agent"], row["current"]) for row in listed] == [
        ("127.0.2.3", "Chromium/131", True)
    ]


async def test_the_user_agent_is_kept_without_control_characters_and_cut_to_its_bound(
    client_at: ClientFrom, make_user: UserFactory
) -> None:
    user = await make_user()
    agent = client_at("127.0.2.4")
    agent.headers["User-Agent"] = "\x1b[31mEvil\x7f Browser\x00 " + "a" * 1000
    tokens = await login(agent, user.username)

    (row,) = await _sessions(agent, tokens)

    assert row["user_agent"] == "[31mEvil Browser " + "a" * (MAX_USER_AGENT_LENGTH - 17)
    assert len(row["user_agent"]) == MAX_USER_AGENT_LENGTH


async def test_an_empty_user_agent_is_listed_as_none(
    client_at: ClientFrom, make_user: UserFactory
) -> None:
    user = await make_user()
    agent = client_at("127.0.2.5")
    agent.headers["User-Agent"] = "\t \x01"
    tokens = await login(agent, user.username)

    (row,) = await _sessions(agent, tokens)

    assert row["user_agent"] is None


async def test_last_used_starts_at_the_login_and_moves_at_each_refresh(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    (at_login,) = await _sessions(client, tokens)
    assert at_login["last_used_at"] == at_login["created_at"]

    refreshed = await client.post(REFRESH_URL, json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    (after,) = await _sessions(client, refreshed.json())

    assert after["id"] == at_login["id"]
    assert after["created_at"] == at_login["created_at"]
    assert _time(after["last_used_at"]) > _time(at_login["last_used_at"])


async def test_ended_and_expired_sessions_are_not_listed(
    client: AsyncClient, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    kept, logged_out, expired = [await login(client, user.username) for _ in range(3)]
    expired_id = await _session_id(client, expired)
    await client.post("/api/v1/auth/logout", headers=bearer(logged_out))
    async with services.sessionmaker() as db:
        await db.execute(
            update(UserSession)
            .where(UserSession.id == uuid.UUID(expired_id))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()

    assert [row["current"] for row in await _sessions(client, kept)] == [True]


async def test_ending_a_session_kills_its_access_and_refresh_tokens_at_once(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    own, other = await login(client, user.username), await login(client, user.username)
    other_id = await _session_id(client, other)  # also puts `other` in the principal cache

    assert await _end(client, own, other_id) == 204

    assert (await client.get(ME_URL, headers=bearer(other))).status_code == 401
    refresh = await client.post(REFRESH_URL, json={"refresh_token": other["refresh_token"]})
    assert refresh.status_code == 401
    assert [row["current"] for row in await _sessions(client, own)] == [True]
    (event,) = logs.events("session_revoked")
    assert event["fields"] == {"user_id": str(user.id), "session_id": other_id}


async def test_ending_the_callers_own_session_logs_it_out(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    own, other = await login(client, user.username), await login(client, user.username)

    assert await _end(client, own, await _session_id(client, own)) == 204

    assert (await client.get(ME_URL, headers=bearer(own))).status_code == 401
    assert (await client.get(ME_URL, headers=bearer(other))).status_code == 200


async def test_another_users_session_is_404_and_keeps_working(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user, victim = await make_user(), await make_user()
    attacker, target = await login(client, user.username), await login(client, victim.username)
    target_id = await _session_id(client, target)

    response = await client.delete(f"{SESSIONS_URL}/{target_id}", headers=bearer(attacker))

    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}
    assert (await client.get(ME_URL, headers=bearer(target))).status_code == 200
    assert logs.events("session_revoked") == []


@pytest.mark.parametrize("which", ["ended", "unknown"])
async def test_an_ended_or_unknown_session_is_404(
    client: AsyncClient, make_user: UserFactory, which: str
) -> None:
    user = await make_user()
    own, other = await login(client, user.username), await login(client, user.username)
    other_id = await _session_id(client, other)
    if which == "ended":
        assert await _end(client, own, other_id) == 204
    else:
        other_id = other_id[:-12] + "0" * 12

    assert await _end(client, own, other_id) == 404


async def test_a_malformed_session_id_is_422_naming_the_parameter(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)

    response = await client.delete(f"{SESSIONS_URL}/not-a-session", headers=bearer(tokens))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "session_id"]


async def test_two_requests_ending_one_session_at_once_end_it_once(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    own, other = await login(client, user.username), await login(client, user.username)
    other_id = await _session_id(client, other)

    statuses = await all_at_once([lambda: _end(client, own, other_id) for _ in range(2)])

    assert sorted(statuses) == [204, 404]
    assert len(logs.events("session_revoked")) == 1


async def test_an_api_key_can_neither_list_nor_end_sessions(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    tokens = await login(client, user.username)
    session_id = await _session_id(client, tokens)
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "ci", "scopes": ["users:read", "users:write"]},
        headers=bearer(tokens),
    )
    with_key = {"X-API-Key": created.json()["key"]}

    listed = await client.get(SESSIONS_URL, headers=with_key)
    ended = await client.delete(f"{SESSIONS_URL}/{session_id}", headers=with_key)

    assert (listed.status_code, ended.status_code) == (401, 401)
    assert ended.json() == {"detail": "This endpoint needs a bearer token, not an API key"}
    assert (await client.get(ME_URL, headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize(
    ("role", "scope"), [(Role.USER, "users:read"), (Role.GUEST, None)], ids=["read-token", "guest"]
)
async def test_a_caller_without_users_write_can_list_but_not_end_sessions(
    client: AsyncClient, make_user: UserFactory, role: Role, scope: str | None
) -> None:
    user = await make_user(role)
    tokens = await login(client, user.username, scope=scope)
    session_id = await _session_id(client, tokens)

    response = await client.delete(f"{SESSIONS_URL}/{session_id}", headers=bearer(tokens))

    assert response.status_code == 403
    assert response.json() == {"detail": "Not enough permissions: requires scope users:write"}
    assert (await client.get(ME_URL, headers=bearer(tokens))).status_code == 200


async def test_listing_needs_users_read(client: AsyncClient, make_user: UserFactory) -> None:
    user = await make_user()
    tokens = await login(client, user.username, scope="users:write")

    response = await client.get(SESSIONS_URL, headers=bearer(tokens))

    assert response.status_code == 403
    assert response.json() == {"detail": "Not enough permissions: requires scope users:read"}
