"""Passkeys over HTTP for tests: registering one and logging in with it, the way a front
end does (docs/passkeys.md), with the software authenticator of authenticator.py."""

from typing import Any

from httpx import AsyncClient, Response

from .authenticator import SoftwareAuthenticator
from .conftest import PASSWORD

PASSKEYS_URL = "/api/v1/users/me/passkeys"
REGISTRATION_OPTIONS_URL = f"{PASSKEYS_URL}/registration-options"
LOGIN_OPTIONS_URL = "/api/v1/auth/passkey/options"
TOKEN_URL = "/api/v1/auth/passkey/token"
COOKIE_LOGIN_URL = "/api/v1/auth/cookie/passkey"


async def registration_options(
    client: AsyncClient, headers: dict[str, str], code: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"current_password": PASSWORD}
    if code is not None:
        body["code"] = code
    response = await client.post(REGISTRATION_OPTIONS_URL, headers=headers, json=body)
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


async def register(
    client: AsyncClient,
    headers: dict[str, str],
    authenticator: SoftwareAuthenticator,
    name: str = "Laptop",
) -> dict[str, Any]:
    """Register `authenticator`'s credential for the caller of `headers`; its listing."""
    options = await registration_options(client, headers)
    response = await client.post(
        PASSKEYS_URL,
        headers=headers,
        json={"name": name, "credential": authenticator.create(options)},
    )
    assert response.status_code == 201, response.text
    listed: dict[str, Any] = response.json()
    return listed


async def login_options(client: AsyncClient) -> dict[str, Any]:
    response = await client.post(LOGIN_OPTIONS_URL)
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


async def passkey_login(
    client: AsyncClient, authenticator: SoftwareAuthenticator, **assertion: Any
) -> Response:
    """POST /auth/passkey/token with an assertion for fresh options."""
    credential = authenticator.get(await login_options(client), **assertion)
    return await client.post(TOKEN_URL, json={"credential": credential})
