"""A flood of failed logins or admin-route probes adds a bounded number of rows to the
audit trail, however many clients, accounts and names it uses; the log keeps every one."""

from collections import Counter
from functools import partial
from typing import Any

import httpx
import pytest

from {{ cookiecutter.project_slug }}.audit.trail import ROWS_PER_EVENT, ROWS_PER_SUBJECT
from {{ cookiecutter.project_slug }}.state import Services

from .audit_rows import audit_rows
from .conftest import CapturedLogs, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback

TOKEN_URL = "/api/v1/auth/token"
{%- if cookiecutter.use_redis == "yes" %}
# Fewer at once than Redis connections in the pool (redis_state.py): past that, counts
# fall back to the process's own while the pool is exhausted, and the bound is per store.
{%- endif %}
FLOOD = 100


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Every guess of the flood reaches its password check: none is shed or limited.
    return {"PASSWORD_HASH_QUEUE": 10_000, "RATE_LIMIT_LOGIN": f"{10 * FLOOD}/minute"}


def test_the_bounds_are_one_row_per_subject_and_sixty_per_event_a_minute() -> None:
    assert (ROWS_PER_SUBJECT.amount, ROWS_PER_SUBJECT.get_expiry()) == (1, 60)
    assert (ROWS_PER_EVENT.amount, ROWS_PER_EVENT.get_expiry()) == (60, 60)


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


async def test_a_flood_of_unknown_names_keeps_the_events_budget_of_rows(
    app: Any, services: Services, logs: CapturedLogs
) -> None:
    guesses = [
        partial(_login_from, app, loopback(number), f"nobody-{number}", "wrong guess")
        for number in range(FLOOD)
    ]
    answers = await all_at_once(guesses)
    assert Counter(answer.status_code for answer in answers) == {401: FLOOD}
    rows = await audit_rows(services, event="login_failed")
    assert len(rows) == ROWS_PER_EVENT.amount
    assert {row.user_id for row in rows} == {None}
    assert len({row.ip_address for row in rows}) == ROWS_PER_EVENT.amount
    assert len(logs.events("login_failed")) == FLOOD


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
