"""Logging in with two-factor authentication on: each code once, counted, on both routes."""

from collections import Counter
from functools import partial
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event

from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.mfa.service import MAX_WRONG_CODES
from {{ cookiecutter.project_slug }}.services import Services

from .conftest import BASE_URL, PASSWORD, CapturedLogs, UserFactory, bearer, login, make_settings
from .crowd import all_at_once, client_from, loopback
from .two_factor import (
    CODE_REFUSED,
    CODES_LOCKED,
    DISABLE_URL,
    MFA_CHALLENGE,
    MFA_REQUIRED,
    code_at,
    enable_two_factor,
    token_login,
)

COOKIE_LOGIN_URL = "/api/v1/auth/cookie/login"
ME_URL = "/api/v1/users/me"
CROWD = 8


async def _enrolled(client: AsyncClient, make_user: UserFactory) -> tuple[str, Any]:
    user = await make_user()
    enrolment = await enable_two_factor(client, bearer(await login(client, user.username)))
    return user.username, enrolment


async def test_the_password_alone_is_401_mfa_required(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, _ = await _enrolled(client, make_user)
    for otp in (None, ""):
        response = await token_login(client, username, otp=otp)
        assert response.status_code == 401
        assert response.json() == MFA_REQUIRED
        assert response.headers["www-authenticate"] == MFA_CHALLENGE


async def test_no_code_is_checked_for_a_wrong_password(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    current = code_at(enrolment.secret, enrolment.step)
    refused = await token_login(client, username, otp=current, password="not the password")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Incorrect username or password"}
    assert refused.headers["www-authenticate"] == "Bearer"
    # The code was not spent on the refused login.
    assert (await token_login(client, username, otp=current)).status_code == 200


async def test_each_time_step_logs_in_once_within_one_step_of_drift(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    secret, step = enrolment.secret, enrolment.step
    # The confirmation spent the previous step; two steps off is beyond the drift.
    for spent_or_far in (step - 1, step + 2):
        refused = await token_login(client, username, otp=code_at(secret, spent_or_far))
        assert refused.status_code == 401
        assert refused.json() == CODE_REFUSED
        assert refused.headers["www-authenticate"] == MFA_CHALLENGE
    current = await token_login(client, username, otp=code_at(secret, step))
    assert current.status_code == 200
    assert (await client.get(ME_URL, headers=bearer(current.json()))).json()["mfa_enabled"]
    assert (await token_login(client, username, otp=code_at(secret, step))).json() == CODE_REFUSED
    assert (await token_login(client, username, otp=code_at(secret, step + 1))).status_code == 200
    assert (await token_login(client, username, otp=code_at(secret, step + 1))).status_code == 401
    # Once a later step was used, an earlier one is no longer accepted either.
    assert (await token_login(client, username, otp=code_at(secret, step))).status_code == 401


async def test_each_recovery_code_logs_in_once(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    first, second = enrolment.recovery_codes[:2]
    assert (await token_login(client, username, otp=first)).status_code == 200
    again = await token_login(client, username, otp=first)
    assert again.status_code == 401
    assert again.json() == CODE_REFUSED
    # As typed from a printout: upper case, no dashes.
    typed = second.replace("-", "").upper()
    assert (await token_login(client, username, otp=typed)).status_code == 200
    used = logs.events("recovery_code_used")
    assert [event["fields"]["remaining"] for event in used] == ["9", "8"]


async def test_the_cookie_login_needs_the_code_too(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    form = {"username": username, "password": PASSWORD}
    required = await client.post(COOKIE_LOGIN_URL, data=form)
    assert required.status_code == 401
    assert required.json() == MFA_REQUIRED
    assert required.headers["www-authenticate"] == MFA_CHALLENGE
    assert "set-cookie" not in required.headers
    wrong = await client.post(COOKIE_LOGIN_URL, data={**form, "otp": "000000"})
    assert wrong.status_code == 401
    assert wrong.json() == CODE_REFUSED
    otp = code_at(enrolment.secret, enrolment.step)
    session = await client.post(COOKIE_LOGIN_URL, data={**form, "otp": otp})
    assert session.status_code == 200
    assert session.json()["token_type"] == "cookie"
    # The cookie the client keeps now authenticates the session.
    assert (await client.get(ME_URL)).json()["mfa_enabled"] is True


async def test_a_secret_no_key_opens_refuses_codes_but_not_recovery_codes(
    client: AsyncClient, make_user: UserFactory, db_url: str, logs: CapturedLogs
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    # The same database, served with a key list that lost the key the secret was made with.
    rekeyed = create_app(make_settings(db_url, MFA_ENCRYPTION_KEY="another-" + "k" * 40))
    transport = ASGITransport(app=rekeyed)
    async with (
        rekeyed.router.lifespan_context(rekeyed),
        AsyncClient(transport=transport, base_url=BASE_URL) as elsewhere,
    ):
        otp = code_at(enrolment.secret, enrolment.step)
        refused = await token_login(elsewhere, username, otp=otp)
        assert refused.status_code == 401
        assert refused.json() == CODE_REFUSED
        recovered = await token_login(elsewhere, username, otp=enrolment.recovery_codes[0])
        assert recovered.status_code == 200
    assert "opens with no key of MFA_ENCRYPTION_KEY" in logs.text


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_LOGIN": "3/minute"}])
async def test_code_guesses_count_against_the_accounts_login_limit(
    app: Any, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    async with client_from(app, loopback(0)) as owner:
        # The enrolling login is the account's first attempt of the minute.
        enrolment = await enable_two_factor(owner, bearer(await login(owner, user.username)))
    current = code_at(enrolment.secret, enrolment.step)
    attempts = ["000000", None, current, current]
    answers = []
    for number, otp in enumerate(attempts, start=1):
        async with client_from(app, loopback(number)) as guesser:
            answers.append(await token_login(guesser, user.username, otp=otp))
    assert [answer.status_code for answer in answers] == [401, 401, 429, 429]
    assert answers[0].json() == CODE_REFUSED
    assert answers[1].json() == MFA_REQUIRED


# Room for more guesses than MAX_WRONG_CODES within the login limit.
@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_LOGIN": "100/minute"}])
async def test_after_ten_wrong_codes_only_a_recovery_code_logs_in(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    current = code_at(enrolment.secret, enrolment.step)
    wrong = [await token_login(client, username, otp=f"{n:06d}") for n in range(MAX_WRONG_CODES)]
    assert [answer.json() for answer in wrong] == [CODE_REFUSED] * MAX_WRONG_CODES

    locked = await token_login(client, username, otp=current)
    recovered = await token_login(client, username, otp=enrolment.recovery_codes[0])
    # The recovery code started the count again: the next step's code works.
    unlocked = await token_login(
        client, username, otp=code_at(enrolment.secret, enrolment.step + 1)
    )

    assert (locked.status_code, locked.json()) == (401, CODES_LOCKED)
    assert locked.headers["www-authenticate"] == MFA_CHALLENGE
    assert recovered.status_code == 200
    assert unlocked.status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_LOGIN": "100/minute"}])
async def test_a_right_code_starts_the_count_of_wrong_ones_again(
    client: AsyncClient, make_user: UserFactory
) -> None:
    username, enrolment = await _enrolled(client, make_user)
    answers = []
    for otp in (enrolment.step, enrolment.step + 1):
        for n in range(MAX_WRONG_CODES - 1):
            answers.append((await token_login(client, username, otp=f"{n:06d}")).json())
        right = await token_login(client, username, otp=code_at(enrolment.secret, otp))
        assert right.status_code == 200
    assert answers == [CODE_REFUSED] * (2 * (MAX_WRONG_CODES - 1))


@pytest.mark.parametrize("kind", ["totp", "recovery"])
async def test_parallel_logins_with_one_code_let_exactly_one_in(
    app: Any, make_user: UserFactory, kind: str
) -> None:
    async with client_from(app, loopback(0)) as owner:
        username, enrolment = await _enrolled(owner, make_user)
    otp = (
        code_at(enrolment.secret, enrolment.step) if kind == "totp" else enrolment.recovery_codes[0]
    )
    clients = [client_from(app, loopback(number)) for number in range(1, CROWD + 1)]
    try:
        answers = await all_at_once([partial(token_login, c, username, otp) for c in clients])
    finally:
        for crowd_client in clients:
            await crowd_client.aclose()
    assert Counter(answer.status_code for answer in answers) == {200: 1, 401: CROWD - 1}
    assert all(a.json() == CODE_REFUSED for a in answers if a.status_code == 401)


async def test_a_login_without_two_factor_reads_no_two_factor_table(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    plain = await make_user()
    username, enrolment = await _enrolled(client, make_user)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert (await token_login(client, plain.username)).status_code == 200
        plain_login = list(statements)
        otp = code_at(enrolment.secret, enrolment.step)
        assert (await token_login(client, username, otp=otp)).status_code == 200
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)
    assert not [s for s in plain_login if "totp_secrets" in s or "recovery_codes" in s]
    # The same recording sees the tables when a login does read them.
    assert any("totp_secrets" in s for s in statements[len(plain_login) :])


async def test_no_secret_or_code_reaches_the_log(
    client: AsyncClient, make_user: UserFactory, logs: CapturedLogs
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    current = code_at(enrolment.secret, enrolment.step)
    await token_login(client, user.username, otp="999999")
    await token_login(client, user.username, otp=current)
    await token_login(client, user.username, otp=enrolment.recovery_codes[0])
    disabled = await client.post(
        DISABLE_URL,
        headers=headers,
        json={"current_password": PASSWORD, "code": enrolment.recovery_codes[1]},
    )
    assert disabled.status_code == 204
    secrets = [enrolment.secret, current, "999999", PASSWORD]
    for code in enrolment.recovery_codes:
        secrets += [code, code.replace("-", "")]
    assert [secret for secret in secrets if secret in logs.text] == []
    uid = str(user.id)
    assert [e["fields"] for e in logs.events("mfa_setup_started")] == [{"user_id": uid}]
    assert [e["fields"] for e in logs.events("mfa_enabled")] == [{"user_id": uid}]
    assert [e["fields"] for e in logs.events("mfa_code_rejected")] == [
        {"user_id": uid, "client": "127.0.0.1"}
    ]
    assert len(logs.events("recovery_code_used")) == 2
    assert [e["fields"] for e in logs.events("mfa_disabled")] == [{"user_id": uid}]


# Past MAX_WRONG_CODES - 1 wrong codes, the crowd has room for one check only.
PARALLEL_WRONG_CODES = 30


async def test_parallel_wrong_codes_past_the_cap_check_exactly_one(
    app: Any, make_user: UserFactory
) -> None:
    async with client_from(app, loopback(0)) as owner:
        username, enrolment = await _enrolled(owner, make_user)
        for n in range(MAX_WRONG_CODES - 1):
            assert (await token_login(owner, username, otp=f"{n:06d}")).json() == CODE_REFUSED
        clients = [client_from(app, loopback(n)) for n in range(1, PARALLEL_WRONG_CODES + 1)]
        try:
            answers = await all_at_once(
                [
                    partial(token_login, crowd_client, username, f"{100 + n:06d}")
                    for n, crowd_client in enumerate(clients)
                ]
            )
        finally:
            for crowd_client in clients:
                await crowd_client.aclose()
        assert Counter(answer.json()["detail"] for answer in answers) == {
            CODE_REFUSED["detail"]: 1,
            CODES_LOCKED["detail"]: PARALLEL_WRONG_CODES - 1,
        }
        right = await token_login(owner, username, otp=code_at(enrolment.secret, enrolment.step))
        assert (right.status_code, right.json()) == (401, CODES_LOCKED)
        recovered = await token_login(owner, username, otp=enrolment.recovery_codes[0])
        assert recovered.status_code == 200
