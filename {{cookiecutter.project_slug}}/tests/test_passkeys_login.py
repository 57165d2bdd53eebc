"""Logging in with a passkey (contract: Passkeys): real signatures from a software
authenticator, the login's answers, and every way an assertion must be refused."""

from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, insert, select, update
from webauthn.helpers import encode_cbor

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.passkeys.ceremonies import CHALLENGE_LIFETIME
from {{ cookiecutter.project_slug }}.passkeys.challenges import MAX_PENDING_LOGINS, Ceremony
from {{ cookiecutter.project_slug }}.passkeys.models import Passkey, PasskeyChallenge
from {{ cookiecutter.project_slug }}.purge import purge_expired
from {{ cookiecutter.project_slug }}.services import Services

from .audit_rows import audit_rows
from .authenticator import SoftwareAuthenticator
from .conftest import PASSWORD, UserFactory, bearer, login
from .crowd import all_at_once, client_from, loopback
from .passkeys import (
    COOKIE_LOGIN_URL,
    LOGIN_OPTIONS_URL,
    PASSKEYS_URL,
    TOKEN_URL,
    login_options,
    passkey_login,
    register,
)
from .two_factor import enable_two_factor, token_login

ME_URL = "/api/v1/users/me"
CHALLENGE_REFUSED = "Passkey challenge unknown, already used or expired; ask for new options"


async def _enrolled(
    client: AsyncClient, make_user: UserFactory, **kwargs: Any
) -> tuple[SoftwareAuthenticator, dict[str, str], Any]:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    authenticator = SoftwareAuthenticator(**kwargs)
    await register(client, headers, authenticator)
    return authenticator, headers, user


async def test_passkey_login_answers_like_the_password_login(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, user = await _enrolled(client, make_user)
    response = await passkey_login(client, authenticator)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert tokens["scope"] == (await login(client, user.username))["scope"]
    me = await client.get(ME_URL, headers=bearer(tokens))
    assert me.json()["username"] == user.username
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_passkey_login_records_its_use(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    authenticator, headers, user = await _enrolled(client, make_user)
    assert (await passkey_login(client, authenticator)).status_code == 200
    [listed] = (await client.get(PASSKEYS_URL, headers=headers)).json()
    assert listed["last_used_at"] is not None
    events = await audit_rows(services, event="login_succeeded", user_id=user.id)
    assert events[-1].details == {"factor": "passkey"}


async def test_cookie_passkey_login_answers_like_the_cookie_login(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, user = await _enrolled(client, make_user)
    credential = authenticator.get(await login_options(client))
    response = await client.post(COOKIE_LOGIN_URL, json={"credential": credential})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"token_type", "expires_in", "scope", "csrf_token"}
    assert "access_token" not in response.text
    me = await client.get(ME_URL)
    assert me.json()["username"] == user.username


async def test_login_options_name_no_user_and_require_verification(client: AsyncClient) -> None:
    options = await login_options(client)
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "localhost"
    assert options["timeout"] == 300_000


async def test_a_login_challenge_works_once(client: AsyncClient, make_user: UserFactory) -> None:
    authenticator, _, _ = await _enrolled(client, make_user)
    options = await login_options(client)
    assert (
        await client.post(TOKEN_URL, json={"credential": authenticator.get(options)})
    ).status_code == 200
    replayed = await client.post(TOKEN_URL, json={"credential": authenticator.get(options)})
    assert replayed.status_code == 401
    assert replayed.json() == {"detail": CHALLENGE_REFUSED}


async def test_one_challenge_used_in_parallel_logs_in_once(
    app: Any, client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, _ = await _enrolled(client, make_user, counts_signatures=False)
    options = await login_options(client)
    credential = authenticator.get(options)
    crowd = [client_from(app, loopback(number)) for number in range(8)]
    try:
        answers = await all_at_once(
            [
                lambda http=http: http.post(TOKEN_URL, json={"credential": credential})
                for http in crowd
            ]
        )
    finally:
        for http in crowd:
            await http.aclose()
    assert sorted(answer.status_code for answer in answers) == [200] + [401] * 7


async def test_an_expired_challenge_is_refused(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    authenticator, _, _ = await _enrolled(client, make_user)
    options = await login_options(client)
    async with services.sessionmaker() as db:
        await db.execute(
            update(PasskeyChallenge)
            .where(PasskeyChallenge.challenge == options["challenge"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    response = await client.post(TOKEN_URL, json={"credential": authenticator.get(options)})
    assert response.status_code == 401
    assert response.json() == {"detail": CHALLENGE_REFUSED}


async def test_a_challenge_this_server_never_issued_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, _ = await _enrolled(client, make_user)
    made_up = {"challenge": "A" * 86, "rpId": "localhost"}
    response = await client.post(TOKEN_URL, json={"credential": authenticator.get(made_up)})
    assert response.status_code == 401
    assert response.json() == {"detail": CHALLENGE_REFUSED}


@pytest.mark.parametrize(
    ("assertion", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"origin": "http://localhost:3001"}, "origin"),
        ({"rp_id": "example.com"}, "RP ID"),
        ({"user_verified": False}, "verif"),
    ],
)
async def test_an_assertion_for_another_site_or_unverified_is_refused(
    client: AsyncClient,
    make_user: UserFactory,
    services: Services,
    assertion: dict[str, Any],
    reason: str,
) -> None:
    authenticator, _, user = await _enrolled(client, make_user)
    response = await passkey_login(client, authenticator, **assertion)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    [event] = await audit_rows(services, event="passkey_login_failed", user_id=user.id)
    assert event.details["reason"] == "invalid"


async def test_an_assertion_from_a_cross_origin_frame_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, _ = await _enrolled(client, make_user)
    response = await passkey_login(client, authenticator, cross_origin=True)
    assert response.status_code == 401
    assert response.json() == {"detail": "Passkeys are not accepted from a cross-origin frame"}


async def test_a_signature_by_another_key_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, _, _ = await _enrolled(client, make_user)
    impostor = SoftwareAuthenticator()
    impostor.credential_id, impostor.user_handle = (
        authenticator.credential_id,
        authenticator.user_handle,
    )
    response = await passkey_login(client, impostor)
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


async def test_a_counter_that_goes_backwards_refuses_and_is_audited(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    authenticator, _, user = await _enrolled(client, make_user)
    assert (await passkey_login(client, authenticator)).status_code == 200
    assert (await passkey_login(client, authenticator)).status_code == 200
    # A clone of the key, made before those two logins, counts from where it was.
    authenticator.sign_count = 1
    response = await passkey_login(client, authenticator)
    assert response.status_code == 401
    assert "counter went backwards" in response.json()["detail"]
    [event] = await audit_rows(services, event="passkey_login_failed", user_id=user.id)
    assert event.details["reason"] == "counter"


async def test_a_cloned_passkey_is_audited_after_a_junk_assertion(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    # Anyone holding the credential id can send junk for it; that must not use up the
    # audit row of the clone's login that follows.
    authenticator, _, user = await _enrolled(client, make_user)
    assert (await passkey_login(client, authenticator)).status_code == 200
    assert (await passkey_login(client, authenticator)).status_code == 200
    impostor = SoftwareAuthenticator()
    impostor.credential_id, impostor.user_handle = (
        authenticator.credential_id,
        authenticator.user_handle,
    )
    assert (await passkey_login(client, impostor)).status_code == 401
    authenticator.sign_count = 1
    response = await passkey_login(client, authenticator)
    assert response.status_code == 401
    assert "counter went backwards" in response.json()["detail"]
    events = await audit_rows(services, event="passkey_login_failed", user_id=user.id)
    assert [event.details["reason"] for event in events] == ["invalid", "counter"]


async def test_a_stored_key_that_is_no_key_refuses_the_login(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    # Registration refuses such keys; a login must not crash on one all the same.
    authenticator, _, user = await _enrolled(client, make_user)
    async with services.sessionmaker() as db:
        await db.execute(
            update(Passkey)
            .where(Passkey.user_id == user.id)
            .values(public_key=encode_cbor({1: 3, 3: -257, -1: b"\x01", -2: b"\x03"}))
        )
        await db.commit()
    response = await passkey_login(client, authenticator)
    assert response.status_code == 401
    assert response.json() == {"detail": "Passkey not accepted: the assertion could not be checked"}
    [event] = await audit_rows(services, event="passkey_login_failed", user_id=user.id)
    assert event.details["reason"] == "invalid"


async def test_an_unknown_passkey_is_refused(client: AsyncClient, make_user: UserFactory) -> None:
    await _enrolled(client, make_user)
    stranger = SoftwareAuthenticator()
    stranger.user_handle = b"\x00" * 16
    response = await passkey_login(client, stranger)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown passkey"}


async def test_a_removed_passkey_logs_in_no_more(
    client: AsyncClient, make_user: UserFactory
) -> None:
    authenticator, headers, _ = await _enrolled(client, make_user)
    [listed] = (await client.get(PASSKEYS_URL, headers=headers)).json()
    removed = await client.request(
        "DELETE",
        f"{PASSKEYS_URL}/{listed['id']}",
        headers=headers,
        json={"current_password": PASSWORD},
    )
    assert removed.status_code == 204, removed.text
    assert (await passkey_login(client, authenticator)).status_code == 401


async def test_a_malformed_assertion_is_refused(client: AsyncClient) -> None:
    response = await client.post(TOKEN_URL, json={"credential": {"id": "x"}})
    assert response.status_code == 401
    assert response.json() == {"detail": "Malformed passkey assertion"}


async def test_a_two_factor_user_logs_in_by_passkey_without_a_code(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    authenticator = SoftwareAuthenticator()
    options = await client.post(
        f"{PASSKEYS_URL}/registration-options",
        headers=headers,
        json={"current_password": PASSWORD, "code": enrolment.recovery_codes[0]},
    )
    assert options.status_code == 200, options.text
    created = await client.post(
        PASSKEYS_URL,
        headers=headers,
        json={"name": "Phone", "credential": authenticator.create(options.json())},
    )
    assert created.status_code == 201, created.text
    assert (await token_login(client, user.username)).status_code == 401
    response = await passkey_login(client, authenticator)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_LOGIN": "2/minute"}])
async def test_passkey_logins_are_limited_like_logins(client: AsyncClient) -> None:
    answers = [(await client.post(LOGIN_OPTIONS_URL)).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    refused = await client.post(TOKEN_URL, json={"credential": {}})
    assert refused.status_code == 429


async def test_the_purge_deletes_expired_challenges_only(
    client: AsyncClient, services: Services
) -> None:
    expired = (await login_options(client))["challenge"]
    live = (await login_options(client))["challenge"]
    async with services.sessionmaker() as db:
        await db.execute(
            update(PasskeyChallenge)
            .where(PasskeyChallenge.challenge == expired)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    counts = await purge_expired(services.engine, services.settings)
    assert counts["passkey_challenges"] == 1
    async with services.sessionmaker() as db:
        assert list(await db.scalars(select(PasskeyChallenge.challenge))) == [live]


async def test_a_flood_of_login_options_evicts_the_oldest_and_locks_nobody_out(
    app: Any, client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    # A flood from many addresses, near the bound already and then a crowd at once.
    flooded_at = utcnow() - timedelta(minutes=1)
    async with services.sessionmaker() as db:
        await db.execute(
            insert(PasskeyChallenge),
            [
                {
                    "challenge": f"flood-{number}",
                    "ceremony": Ceremony.LOGIN.value,
                    "expires_at": flooded_at + CHALLENGE_LIFETIME,
                }
                for number in range(MAX_PENDING_LOGINS - 10)
            ],
        )
        await db.commit()
    authenticator, _, _ = await _enrolled(client, make_user)
    under_way = await login_options(client)
    crowd = [client_from(app, loopback(number)) for number in range(40)]
    try:
        answers = await all_at_once(
            [lambda http=http: http.post(LOGIN_OPTIONS_URL) for http in crowd]
        )
    finally:
        for http in crowd:
            await http.aclose()
    assert [answer.status_code for answer in answers] == [200] * 40
    async with services.sessionmaker() as db:
        pending = await db.scalar(
            select(func.count())
            .select_from(PasskeyChallenge)
            .where(PasskeyChallenge.ceremony == Ceremony.LOGIN.value)
        )
    assert pending == MAX_PENDING_LOGINS
    # The flood's oldest challenges made room; a login under way and a new one both work.
    credential = authenticator.get(under_way)
    assert (await client.post(TOKEN_URL, json={"credential": credential})).status_code == 200
    async with client_from(app, loopback(99)) as newcomer:
        fresh = await passkey_login(newcomer, authenticator)
    assert fresh.status_code == 200, fresh.text
