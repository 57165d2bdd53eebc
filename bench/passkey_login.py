"""What a passkey login costs next to a password login, in-process, in milliseconds.

Run from a rendered project's root (passkeys=yes) with its Python:

    cd /path/to/secure_api && .venv/bin/python /path/to/bench/passkey_login.py [--logins 300]

Logins go through the whole app (ASGI, no network) into a fresh SQLite file. A passkey
login is what a browser does: POST /auth/passkey/options, then the assertion, signed by
the render's test authenticator (`tests/authenticator.py`, ES256 from `cryptography`)
and verified by py_webauthn; its time is both requests together, the signing left out.
Two runs: cheap Argon2 settings, so that the passkey's share shows against the rest of a
login, and the default (production) settings for a few logins, to set it against the
password hash a passkey login does not compute. Prints medians.
"""

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from httpx import AsyncClient
from login_costs import (
    PASSWORD,
    Timings,
    app_client,
    arguments,
    expect,
    make_users,
    password_login,
    run_both_settings,
)

# The render's own software authenticator, from the project this runs in.
sys.path.insert(0, str(Path.cwd()))
from tests.authenticator import SoftwareAuthenticator

OPTIONS_URL = "/api/v1/auth/passkey/options"
PASSKEY_TOKEN_URL = "/api/v1/auth/passkey/token"  # noqa: S105 - a path


async def _enrol(client: AsyncClient, username: str) -> SoftwareAuthenticator:
    """Register a passkey for `username`, as a front end does."""
    form = {"username": username, "password": PASSWORD}
    token = (await password_login(client, form)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    options = await client.post(
        "/api/v1/users/me/passkeys/registration-options",
        headers=headers,
        json={"current_password": PASSWORD},
    )
    authenticator = SoftwareAuthenticator()
    created = await client.post(
        "/api/v1/users/me/passkeys",
        headers=headers,
        json={"name": "bench", "credential": authenticator.create(expect(options).json())},
    )
    expect(created, 201)
    return authenticator


async def _password_login(client: AsyncClient, username: str) -> float:
    start = time.perf_counter()
    await password_login(client, {"username": username, "password": PASSWORD})
    return (time.perf_counter() - start) * 1000


async def _passkey_login(client: AsyncClient, authenticator: SoftwareAuthenticator) -> float:
    start = time.perf_counter()
    options = expect(await client.post(OPTIONS_URL)).json()
    asked = time.perf_counter()
    credential = authenticator.get(options)
    signed = time.perf_counter()
    expect(await client.post(PASSKEY_TOKEN_URL, json={"credential": credential}))
    done = time.perf_counter()
    return ((asked - start) + (done - signed)) * 1000


async def measure(database_url: str, argon2: dict[str, Any], logins: int) -> Timings:
    async with app_client(database_url, argon2) as (client, services):
        names = await make_users(services, logins)
        authenticators = [await _enrol(client, name) for name in names]
        timings: Timings = {"password": [], "passkey": []}
        for name, authenticator in zip(names, authenticators, strict=True):
            timings["password"].append(await _password_login(client, name))
            timings["passkey"].append(await _passkey_login(client, authenticator))
    return timings


def _describe(medians: dict[str, float]) -> str:
    password, passkey = medians["password"], medians["passkey"]
    return f"password {password:7.2f} ms, passkey {passkey:7.2f} ms ({passkey - password:+.2f} ms)"


async def main() -> None:
    await run_both_settings(measure, _describe, arguments(__doc__ or "").parse_args().logins)


if __name__ == "__main__":
    asyncio.run(main())
