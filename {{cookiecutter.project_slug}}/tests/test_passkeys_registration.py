"""Registering, listing and removing passkeys (contract: Passkeys), with real attestation
from a software authenticator; and the settings that name the site passkeys belong to."""

import asyncio
import os
import time
import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from webauthn.helpers import bytes_to_base64url

from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.passkeys.ceremonies import CHALLENGE_LIFETIME
from {{ cookiecutter.project_slug }}.passkeys.challenges import Ceremony
from {{ cookiecutter.project_slug }}.passkeys.models import Passkey, PasskeyChallenge
from {{ cookiecutter.project_slug }}.passkeys.service import MAX_PASSKEYS_PER_USER
from {{ cookiecutter.project_slug }}.security.scopes import Role
from {{ cookiecutter.project_slug }}.services import Services

from .audit_rows import audit_rows
from .authenticator import SoftwareAuthenticator
from .conftest import PASSWORD, MailBox, UserFactory, bearer, login, make_settings
from .crowd import all_at_once, client_from, loopback
from .passkeys import (
    PASSKEYS_URL,
    REGISTRATION_OPTIONS_URL,
    TOKEN_URL,
    login_options,
    passkey_login,
    register,
    registration_options,
)

CHALLENGE_REFUSED = "Passkey challenge unknown, already used or expired; ask for new options"


@pytest.fixture
def settings_overrides(smtp_settings: dict[str, Any]) -> dict[str, Any]:
    return smtp_settings


async def _user(client: AsyncClient, make_user: UserFactory) -> tuple[Any, dict[str, str]]:
    user = await make_user()
    return user, bearer(await login(client, user.username))


async def _add(
    client: AsyncClient, headers: dict[str, str], credential: dict[str, Any], name: str = "Laptop"
) -> Any:
    return await client.post(
        PASSKEYS_URL, headers=headers, json={"name": name, "credential": credential}
    )


async def _remove(client: AsyncClient, headers: dict[str, str], passkey_id: str) -> Any:
    return await client.request(
        "DELETE",
        f"{PASSKEYS_URL}/{passkey_id}",
        headers=headers,
        json={"current_password": PASSWORD},
    )


async def test_registration_options_ask_for_a_discoverable_verified_passkey(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user, headers = await _user(client, make_user)
    options = await registration_options(client, headers)
    assert options["rp"] == {"name": "Secure API", "id": "localhost"}
    assert options["user"]["name"] == user.username
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 300_000


async def test_a_registered_passkey_is_listed_without_key_material(
    client: AsyncClient, make_user: UserFactory, services: Services, mailbox: MailBox
) -> None:
    user, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    created = await register(client, headers, authenticator, name="Phone")
    assert set(created) == {"id", "name", "created_at", "last_used_at"}
    assert created["name"] == "Phone"
    assert created["last_used_at"] is None
    listed = await client.get(PASSKEYS_URL, headers=headers)
    assert listed.json() == [created]
    options = await registration_options(client, headers)
    [excluded] = options["excludeCredentials"]
    assert excluded["id"] == authenticator.create(options)["id"]
    [event] = await audit_rows(services, event="passkey_added", user_id=user.id)
    assert event.details == {"passkey_id": created["id"]}
    [notice] = [message for message in mailbox.messages if message["To"] == user.email]
    assert notice["Subject"] == "A passkey was added to your Secure API account"


async def test_registration_options_need_the_password(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    response = await client.post(
        REGISTRATION_OPTIONS_URL, headers=headers, json={"current_password": "not it at all"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Current password is incorrect"}


async def test_an_api_key_cannot_ask_for_registration_options(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:write"]}
    )
    assert created.status_code == 201, created.text
    response = await client.post(
        REGISTRATION_OPTIONS_URL,
        headers={"X-API-Key": created.json()["key"]},
        json={"current_password": PASSWORD},
    )
    assert response.status_code == 401
    assert (
        await client.get(PASSKEYS_URL, headers={"X-API-Key": created.json()["key"]})
    ).status_code == 401


async def test_a_registration_challenge_works_once(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    options = await registration_options(client, headers)
    assert (await _add(client, headers, SoftwareAuthenticator().create(options))).status_code == 201
    replayed = await _add(client, headers, SoftwareAuthenticator().create(options))
    assert replayed.status_code == 400
    assert replayed.json() == {"detail": CHALLENGE_REFUSED}


async def test_another_users_registration_challenge_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    _, intruder = await _user(client, make_user)
    options = await registration_options(client, headers)
    response = await _add(client, intruder, SoftwareAuthenticator().create(options))
    assert response.status_code == 400
    assert response.json() == {"detail": CHALLENGE_REFUSED}
    # The owner's challenge is still there for the owner.
    assert (await _add(client, headers, SoftwareAuthenticator().create(options))).status_code == 201


@pytest.mark.parametrize(
    ("creation", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "example.com"}, "RP ID"),
        ({"user_verified": False}, "verif"),
    ],
)
async def test_a_credential_for_another_site_or_unverified_is_refused(
    client: AsyncClient, make_user: UserFactory, creation: dict[str, Any], reason: str
) -> None:
    _, headers = await _user(client, make_user)
    options = await registration_options(client, headers)
    response = await _add(client, headers, SoftwareAuthenticator().create(options, **creation))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert (await client.get(PASSKEYS_URL, headers=headers)).json() == []


async def test_a_malformed_credential_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    await registration_options(client, headers)
    response = await _add(client, headers, {"id": "x", "response": "nothing"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Malformed passkey credential"}


@pytest.mark.parametrize("length", [1024, 3000])
async def test_a_credential_id_over_1023_bytes_is_refused(
    client: AsyncClient, make_user: UserFactory, length: int
) -> None:
    _, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    authenticator.credential_id = os.urandom(length)
    options = await registration_options(client, headers)
    response = await _add(client, headers, authenticator.create(options))
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "Passkey credential id longer than 1023 bytes"}
    assert (await client.get(PASSKEYS_URL, headers=headers)).json() == []
    # Nor does a login look one up.
    assertion = authenticator.get(await login_options(client))
    refused = await client.post(TOKEN_URL, json={"credential": assertion})
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Passkey credential id longer than 1023 bytes"}


async def test_a_credential_id_of_1023_bytes_is_kept(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    authenticator.credential_id = os.urandom(1023)
    await register(client, headers, authenticator)
    assert (await passkey_login(client, authenticator)).status_code == 200


@pytest.mark.parametrize(
    "attestation",
    [
        ("fido-u2f", {"sig": b"x", "x5c": [b"junk"]}),
        ("android-safetynet", {"ver": "1", "response": b"a.b.c"}),
    ],
)
async def test_a_crafted_attestation_statement_is_refused(
    client: AsyncClient, make_user: UserFactory, attestation: tuple[str, dict[str, Any]]
) -> None:
    _, headers = await _user(client, make_user)
    options = await registration_options(client, headers)
    credential = SoftwareAuthenticator().create(options, attestation=attestation)
    response = await _add(client, headers, credential)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "Malformed passkey credential"}


UNUSABLE_KEYS = [
    pytest.param({1: 3, 3: -257, -1: b"\x01", -2: b"\x03"}, id="rsa-n-1"),
    pytest.param({1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32}, id="ec2-off-the-curve"),
    pytest.param({1: 1, 3: -8, -1: 6, -2: b"\x00" * 5}, id="ed25519-5-bytes"),
]


@pytest.mark.parametrize("public_key", UNUSABLE_KEYS)
async def test_a_public_key_that_is_no_key_is_refused(
    client: AsyncClient, make_user: UserFactory, public_key: dict[int, Any]
) -> None:
    _, headers = await _user(client, make_user)
    options = await registration_options(client, headers)
    credential = SoftwareAuthenticator().create(options, public_key=public_key)
    response = await _add(client, headers, credential)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "Passkey not accepted: its public key is not a valid key"}
    assert (await client.get(PASSKEYS_URL, headers=headers)).json() == []


async def test_a_passkey_registered_twice_is_refused(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    await register(client, headers, authenticator)
    options = await registration_options(client, headers)
    response = await _add(client, headers, authenticator.create(options))
    assert response.status_code == 409
    assert response.json() == {"detail": "This passkey is already registered"}


async def _registrations(
    client: AsyncClient,
    headers: dict[str, str],
    services: Services,
    user_id: uuid.UUID,
    count: int,
    *,
    name: str,
) -> list[dict[str, Any]]:
    """`count` registration bodies for one user, each answering a challenge of its own,
    issued as if by as many earlier requests for options."""
    template = await registration_options(client, headers)
    challenges = [bytes_to_base64url(os.urandom(32)) for _ in range(count)]
    async with services.sessionmaker() as db:
        db.add_all(
            PasskeyChallenge(
                challenge=challenge,
                ceremony=Ceremony.REGISTRATION.value,
                user_id=user_id,
                expires_at=utcnow() + CHALLENGE_LIFETIME,
            )
            for challenge in challenges
        )
        await db.commit()
    return [
        {
            "name": f"{name} {number}",
            "credential": SoftwareAuthenticator().create({**template, "challenge": challenge}),
        }
        for number, challenge in enumerate(challenges)
    ]


async def test_the_cap_on_passkeys_holds_for_a_crowd(
    app: Any, client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user, headers = await _user(client, make_user)
    bodies = await _registrations(
        client, headers, services, user.id, MAX_PASSKEYS_PER_USER + 4, name="Key"
    )
    crowd = [client_from(app, loopback(number)) for number in range(len(bodies))]
    try:
        answers = await all_at_once(
            [
                lambda http=http, body=body: http.post(PASSKEYS_URL, headers=headers, json=body)
                for http, body in zip(crowd, bodies, strict=True)
            ]
        )
    finally:
        for http in crowd:
            await http.aclose()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * MAX_PASSKEYS_PER_USER + [400] * 4
    refused = {answer.json()["detail"] for answer in answers if answer.status_code == 400}
    assert refused == {f"At most {MAX_PASSKEYS_PER_USER} passkeys per user; remove one first"}
    assert len((await client.get(PASSKEYS_URL, headers=headers)).json()) == MAX_PASSKEYS_PER_USER


async def test_removing_a_passkey_needs_the_password_and_is_mailed(
    client: AsyncClient, make_user: UserFactory, services: Services, mailbox: MailBox
) -> None:
    user, headers = await _user(client, make_user)
    created = await register(client, headers, SoftwareAuthenticator())
    wrong = await client.request(
        "DELETE",
        f"{PASSKEYS_URL}/{created['id']}",
        headers=headers,
        json={"current_password": "not it at all"},
    )
    assert wrong.status_code == 400
    assert (await _remove(client, headers, created["id"])).status_code == 204
    assert (await client.get(PASSKEYS_URL, headers=headers)).json() == []
    [event] = await audit_rows(services, event="passkey_removed", user_id=user.id)
    assert event.details == {"passkey_id": created["id"]}
    subjects = [message["Subject"] for message in mailbox.messages if message["To"] == user.email]
    assert "A passkey was removed from your Secure API account" in subjects


async def test_another_users_passkey_is_not_found(
    client: AsyncClient, make_user: UserFactory
) -> None:
    _, headers = await _user(client, make_user)
    created = await register(client, headers, SoftwareAuthenticator())
    _, intruder = await _user(client, make_user)
    response = await _remove(client, intruder, created["id"])
    assert response.status_code == 404
    assert response.json() == {"detail": "Passkey not found"}
    assert (await client.get(PASSKEYS_URL, headers=intruder)).json() == []
    assert len((await client.get(PASSKEYS_URL, headers=headers)).json()) == 1


async def _admin_reset(client: AsyncClient, admin: dict[str, str], user_id: Any) -> Response:
    return await client.request(
        "DELETE",
        f"/api/v1/admin/users/{user_id}/mfa",
        headers=admin,
        json={"current_password": PASSWORD},
    )


async def test_an_admin_reset_removes_the_users_passkeys(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    await register(client, headers, authenticator)
    admin = await make_user(Role.ADMIN)
    admin_headers = bearer(await login(client, admin.username))
    reset = await _admin_reset(client, admin_headers, user.id)
    assert reset.status_code == 204, reset.text
    assert (await passkey_login(client, authenticator)).status_code == 401
    [event] = await audit_rows(services, event="passkey_removed", user_id=user.id)
    assert event.actor_id == admin.id
    assert (await _admin_reset(client, admin_headers, user.id)).status_code == 409


async def test_no_passkey_added_during_an_admin_reset_survives_it(
    app: Any, client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    # The reset is the remedy for a thief holding the account: a passkey the thief adds
    # while it runs must go with it, or be refused. Additions spread over the reset's
    # whole duration, each answering a challenge of its own.
    admin = bearer(await login(client, (await make_user(Role.ADMIN)).username))
    rehearsal, rehearsal_headers = await _user(client, make_user)
    await register(client, rehearsal_headers, SoftwareAuthenticator())
    started = time.perf_counter()
    assert (await _admin_reset(client, admin, rehearsal.id)).status_code == 204
    duration = time.perf_counter() - started
    user, headers = await _user(client, make_user)
    await register(client, headers, SoftwareAuthenticator())
    bodies = await _registrations(
        client, headers, services, user.id, MAX_PASSKEYS_PER_USER - 1, name="Thief"
    )

    async def add_later(http: AsyncClient, body: dict[str, Any], number: int) -> Response:
        await asyncio.sleep(duration * 1.2 * number / len(bodies))
        return await http.post(PASSKEYS_URL, headers=headers, json=body)

    crowd = [client_from(app, loopback(number)) for number in range(len(bodies) + 1)]
    try:
        reset, *added = await all_at_once(
            [
                lambda: _admin_reset(crowd[-1], admin, user.id),
                *(
                    lambda http=http, body=body, number=number: add_later(http, body, number)
                    for number, (http, body) in enumerate(zip(crowd, bodies, strict=False))
                ),
            ]
        )
    finally:
        for http in crowd:
            await http.aclose()
    assert reset.status_code == 204, reset.text
    assert {answer.status_code for answer in added} <= {201, 401}
    async with services.sessionmaker() as db:
        left = await db.scalar(
            select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
        )
    assert left == 0


async def test_passkeys_end_with_their_account(client: AsyncClient, make_user: UserFactory) -> None:
    _, headers = await _user(client, make_user)
    authenticator = SoftwareAuthenticator()
    await register(client, headers, authenticator)
    closed = await client.request(
        "DELETE", "/api/v1/users/me", headers=headers, json={"current_password": PASSWORD}
    )
    assert closed.status_code == 204, closed.text
    response = await passkey_login(client, authenticator)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown passkey"}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"WEBAUTHN_RP_ID": "example.com"}, "WEBAUTHN_ORIGINS entry 'http://localhost:3000'"),
        ({"WEBAUTHN_ORIGINS": "https://app.example.org"}, "WEBAUTHN_ORIGINS entry"),
        ({"WEBAUTHN_RP_ID": "127.0.0.1"}, "WEBAUTHN_RP_ID"),
        ({"FRONTEND_URL": "http://app.example.com"}, "https"),
        ({"WEBAUTHN_ORIGINS": "https://example.com/login"}, "bare"),
    ],
)
def test_a_passkey_site_browsers_would_refuse_stops_the_start(
    db_url: str, settings: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        make_settings(db_url, **settings)


def test_passkeys_may_serve_subdomains_of_their_rp_id(db_url: str) -> None:
    settings = make_settings(
        db_url,
        WEBAUTHN_RP_ID="example.com",
        WEBAUTHN_ORIGINS="https://app.example.com,https://example.com",
    )
    assert settings.webauthn_rp_id == "example.com"
    assert settings.webauthn_origins == ["https://app.example.com", "https://example.com"]
