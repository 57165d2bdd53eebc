"""A flood of failed logins, admin-route probes or reset requests adds at most one row a
minute per account (or, for names that are no account, per address) to the audit trail,
and no flood of other names can crowd a targeted account's row out; the log keeps every
one."""

from collections import Counter
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from {{ cookiecutter.project_slug }}.audit.trail import ROWS_PER_SUBJECT
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import ActionToken

from .audit_rows import audit_rows
from .conftest import CapturedLogs, MailBox, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

TOKEN_URL = "/api/v1/auth/token"
RESET_REQUEST_URL = "/api/v1/auth/password-reset/request"
{%- if cookiecutter.use_redis == "yes" %}
# Fewer at once than Redis connections in the pool (redis_state.py): past that, counts
# fall back to the process's own while the pool is exhausted, and the bound is per store.
{%- endif %}
FLOOD = 100
# The flood of the attack review: one address, each request from a client of its own.
RESET_FLOOD = 150


# Names per address in a flood of unknown names.
NAMES_PER_ADDRESS = 4


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    # Every guess of the flood reaches its password check: none is shed or limited.
    return {
        **smtp_settings,
        "PASSWORD_HASH_QUEUE": 10_000,
        "RATE_LIMIT_LOGIN": f"{10 * FLOOD}/minute",
    }


def test_the_bound_is_one_row_per_subject_a_minute() -> None:
    assert (ROWS_PER_SUBJECT.amount, ROWS_PER_SUBJECT.get_expiry()) == (1, 60)


async def _login_from(app: Any, address: str, username: str, password: str) -> httpx.Response:
    async with client_from(app, address) as client:
        return await client.post(TOKEN_URL, data={"username": username, "password": password})


async def test_a_guessing_flood_on_one_account_keeps_one_row(
    app: Any, services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    guesses = [
        partial(_login_from, app, loopback(number), user.username, f"wrong guess {number}")
        for number in range(FLOOD)
    ]
    answers = await all_at_once(guesses)
    assert Counter(answer.status_code for answer in answers) == {401: FLOOD}
    rows = await audit_rows(services, event="login_failed")
    assert [row.user_id for row in rows] == [user.id] * ROWS_PER_SUBJECT.amount
    assert len(logs.events("login_failed")) == FLOOD


async def test_a_flood_of_unknown_names_keeps_one_row_per_address(
    app: Any, services: Services, logs: CapturedLogs
) -> None:
    addresses = FLOOD // NAMES_PER_ADDRESS
    guesses = [
        partial(_login_from, app, loopback(number % addresses), f"nobody-{number}", "wrong")
        for number in range(FLOOD)
    ]
    answers = await all_at_once(guesses)
    assert Counter(answer.status_code for answer in answers) == {401: FLOOD}
    rows = await audit_rows(services, event="login_failed")
    assert {row.user_id for row in rows} == {None}
    assert sorted(row.ip_address or "" for row in rows) == sorted(
        loopback(number) for number in range(addresses)
    )
    assert len(logs.events("login_failed")) == FLOOD


async def test_a_flood_of_unknown_names_cannot_hide_a_failed_login_of_an_account(
    app: Any, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    flood = [
        partial(_login_from, app, loopback(number), f"nobody-{number}", "wrong guess")
        for number in range(FLOOD)
    ]
    answers = await all_at_once(flood)
    assert Counter(answer.status_code for answer in answers) == {401: FLOOD}
    failed = await _login_from(app, loopback(FLOOD), user.username, "the targeted guess")
    assert failed.status_code == 401
    rows = await audit_rows(services, event="login_failed", user_id=user.id)
    assert [row.ip_address for row in rows] == [loopback(FLOOD)]


async def _request_reset_from(app: Any, address: str, email: str) -> httpx.Response:
    async with client_from(app, address) as client:
        return await client.post(RESET_REQUEST_URL, json={"email": email})


async def _reset_links(services: Services) -> int:
    async with services.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(ActionToken)) or 0)


async def test_a_flood_of_reset_requests_for_one_account_mails_one_link(
    app: Any, services: Services, make_user: UserFactory, mailbox: MailBox, logs: CapturedLogs
) -> None:
    user = await make_user()
    requests = [
        partial(_request_reset_from, app, loopback(number), user.email)
        for number in range(RESET_FLOOD)
    ]
    answers = await all_at_once(requests)
    assert Counter(answer.status_code for answer in answers) == {202: RESET_FLOOD}
    assert await _reset_links(services) == 1
    assert [message["To"] for message in mailbox.messages] == [user.email]
    rows = await audit_rows(services, event="password_reset_requested")
    assert [row.user_id for row in rows] == [user.id]
    assert len(logs.events("password_reset_requested")) == RESET_FLOOD


async def test_a_spent_reset_link_does_not_hold_back_the_next_one(
    app: Any, services: Services, make_user: UserFactory, mailbox: MailBox
) -> None:
    user = await make_user()
    assert (await _request_reset_from(app, loopback(0), user.email)).status_code == 202
    confirm = {"token": mailbox.link_token(), "new_password": "a completely new passphrase"}
    async with client_from(app, loopback(0)) as client:
        spent = await client.post("/api/v1/auth/password-reset/confirm", json=confirm)
    assert spent.status_code == 200
    assert (await _request_reset_from(app, loopback(1), user.email)).status_code == 202
    # The link, the notice that the password was reset, and the second link.
    assert [
        str(message["Subject"]).endswith("password was reset") for message in mailbox.messages
    ] == [False, True, False]
    assert mailbox.link_token() != confirm["token"]
    assert await _reset_links(services) == 2


async def test_repeated_admin_route_probes_keep_one_row_per_user(
    client: httpx.AsyncClient, services: Services, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    probes = [partial(client.get, "/api/v1/admin/users", headers=headers) for _ in range(20)]
    answers = await all_at_once(probes)
    assert Counter(answer.status_code for answer in answers) == {403: 20}
    rows = await audit_rows(services, event="admin_access_denied")
    assert [row.user_id for row in rows] == [user.id]
    assert len(logs.events("admin_access_denied")) == 20
