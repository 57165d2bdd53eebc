"""Turning two-factor authentication on and off, over HTTP, with real TOTP codes."""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from {{ cookiecutter.project_slug }}.mfa.models import RecoveryCode, TotpSecret
from {{ cookiecutter.project_slug }}.security.encryption import SecretBox, UndecryptableSecretError
from {{ cookiecutter.project_slug }}.services import Services

from .conftest import PASSWORD, TEST_SECRET_KEY, AuthHeaders, UserFactory, bearer, login
from .two_factor import (
    CONFIRM_URL,
    DISABLE_URL,
    SETUP_URL,
    code_at,
    enable_two_factor,
    fresh_step,
    token_login,
)

ME_URL = "/api/v1/users/me"
REFRESH_URL = "/api/v1/auth/refresh"
RECOVERY_CODE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")


async def _mfa_enabled(client: AsyncClient, headers: dict[str, str]) -> bool:
    response = await client.get(ME_URL, headers=headers)
    assert response.status_code == 200, response.text
    enabled: bool = response.json()["mfa_enabled"]
    return enabled


async def _start(client: AsyncClient, headers: dict[str, str]) -> str:
    setup = await client.post(SETUP_URL, headers=headers, json={"current_password": PASSWORD})
    assert setup.status_code == 200, setup.text
    secret: str = setup.json()["secret"]
    return secret


async def test_setup_gives_a_160_bit_secret_and_its_uri_and_changes_nothing_yet(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    setup = await client.post(SETUP_URL, headers=headers, json={"current_password": PASSWORD})
    assert setup.status_code == 200
    secret, uri = setup.json()["secret"], setup.json()["otpauth_uri"]
    assert len(base64.b32decode(secret)) == 20
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["{{ cookiecutter.project_name }}"]
    assert user.username in parts.path
    assert setup.headers["cache-control"] == "no-store"
    assert await _mfa_enabled(client, headers) is False
    assert (await token_login(client, user.username)).status_code == 200


async def test_setup_needs_the_current_password(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    response = await client.post(
        SETUP_URL, headers=headers, json={"current_password": "not the password"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Current password is incorrect"}


async def test_an_api_key_cannot_set_up_two_factor(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    created = await client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "ci", "scopes": ["users:write"]}
    )
    response = await client.post(
        SETUP_URL, headers={"X-API-Key": created.json()["key"]}, json={"current_password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "This endpoint needs a bearer token, not an API key"}


async def test_a_wrong_confirmation_code_is_400_and_leaves_two_factor_off(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    secret = await _start(client, headers)
    step = await fresh_step()
    wrong = f"{(int(code_at(secret, step)) + 1) % 1_000_000:06d}"
    for code in (wrong, code_at(secret, step - 2), code_at(secret, step + 2), "abcdef"):
        response = await client.post(CONFIRM_URL, headers=headers, json={"code": code})
        assert response.status_code == 400, code
        assert response.json() == {"detail": "Invalid MFA code"}
    assert await _mfa_enabled(client, headers) is False


async def test_confirming_turns_two_factor_on_with_ten_distinct_recovery_codes(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    enrolment = await enable_two_factor(client, headers)
    codes = enrolment.recovery_codes
    assert len(codes) == len(set(codes)) == 10
    assert all(RECOVERY_CODE.match(code) for code in codes), codes
    assert await _mfa_enabled(client, headers) is True


async def test_a_new_setup_replaces_an_unconfirmed_one(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    first = await _start(client, headers)
    second = await _start(client, headers)
    step = await fresh_step()
    refused = await client.post(CONFIRM_URL, headers=headers, json={"code": code_at(first, step)})
    assert refused.status_code == 400
    confirmed = await client.post(
        CONFIRM_URL, headers=headers, json={"code": code_at(second, step)}
    )
    assert confirmed.status_code == 200


async def test_setup_and_confirmation_refuse_when_there_is_nothing_to_do(
    client: AsyncClient, auth_headers: AuthHeaders
) -> None:
    headers = await auth_headers()
    unstarted = await client.post(CONFIRM_URL, headers=headers, json={"code": "123456"})
    assert unstarted.status_code == 400
    assert unstarted.json() == {"detail": "No two-factor setup to confirm; start one first"}
    await enable_two_factor(client, headers)
    again = await client.post(SETUP_URL, headers=headers, json={"current_password": PASSWORD})
    assert again.status_code == 409
    assert again.json() == {"detail": "Two-factor authentication is already on"}
    reconfirm = await client.post(CONFIRM_URL, headers=headers, json={"code": "123456"})
    assert reconfirm.status_code == 409


async def test_confirming_ends_every_other_session_of_the_user(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    other = await login(client, user.username)
    own = bearer(await login(client, user.username))
    await enable_two_factor(client, own)
    assert (await client.get(ME_URL, headers=bearer(other))).status_code == 401
    refreshed = await client.post(REFRESH_URL, json={"refresh_token": other["refresh_token"]})
    assert refreshed.status_code == 401
    assert (await client.get(ME_URL, headers=own)).status_code == 200


async def test_confirming_revokes_the_users_api_keys(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    own = bearer(await login(client, user.username))
    created = await client.post(
        "/api/v1/api-keys", headers=own, json={"name": "ci", "scopes": ["users:read"]}
    )
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get(ME_URL, headers=key)).status_code == 200
    await enable_two_factor(client, own)
    assert (await client.get(ME_URL, headers=key)).status_code == 401


async def test_disabling_needs_the_password_and_a_code(
    client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    enrolment = await enable_two_factor(client, headers)
    current = code_at(enrolment.secret, enrolment.step)
    wrong_password = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": "not the password", "code": current}
    )
    assert wrong_password.status_code == 400
    assert wrong_password.json() == {"detail": "Current password is incorrect"}
    wrong_code = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": PASSWORD, "code": "000000"}
    )
    assert wrong_code.status_code == 400
    assert wrong_code.json() == {"detail": "Invalid or already used MFA code"}
    assert await _mfa_enabled(client, headers) is True
    disabled = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": PASSWORD, "code": current}
    )
    assert disabled.status_code == 204
    assert await _mfa_enabled(client, headers) is False
    assert (await token_login(client, user.username)).status_code == 200
    again = await client.post(
        DISABLE_URL, headers=headers, json={"current_password": PASSWORD, "code": current}
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "Two-factor authentication is not on"}


async def test_disabling_with_a_recovery_code_voids_the_others(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    headers = bearer(await login(client, user.username))
    old = await enable_two_factor(client, headers)
    disabled = await client.post(
        DISABLE_URL,
        headers=headers,
        json={"current_password": PASSWORD, "code": old.recovery_codes[0]},
    )
    assert disabled.status_code == 204
    async with services.sessionmaker() as db:
        assert (
            await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        ).all() == []
        assert await db.get(TotpSecret, user.id) is None
    await enable_two_factor(client, headers)
    refused = await token_login(client, user.username, otp=old.recovery_codes[1])
    assert refused.status_code == 401


async def test_the_secret_and_the_recovery_codes_are_not_stored_as_given(
    client: AsyncClient, make_user: UserFactory, services: Services
) -> None:
    user = await make_user()
    enrolment = await enable_two_factor(client, bearer(await login(client, user.username)))
    async with services.sessionmaker() as db:
        stored = await db.get(TotpSecret, user.id)
        hashes = (
            await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
        ).all()
    assert stored is not None
    assert enrolment.secret not in stored.encrypted_secret
    # SECRET_KEY is the key when MFA_ENCRYPTION_KEY is empty; any other key opens nothing.
    assert SecretBox([TEST_SECRET_KEY]).decrypt(stored.encrypted_secret) == enrolment.secret
    with pytest.raises(UndecryptableSecretError):
        SecretBox(["another key, of the same length as any" * 2]).decrypt(stored.encrypted_secret)
    assert len(hashes) == 10
    for code in enrolment.recovery_codes:
        assert all(code not in value and code.replace("-", "") not in value for value in hashes)
