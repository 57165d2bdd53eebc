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

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient, Response
from secure_api.config import Settings
from secure_api.factory import create_app
from secure_api.users.schemas import UserCreate
from secure_api.users.service import create_user

# The render's own software authenticator, from the project this runs in.
sys.path.insert(0, str(Path.cwd()))
from tests.authenticator import SoftwareAuthenticator

PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench's own throwaway users
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path
OPTIONS_URL = "/api/v1/auth/passkey/options"
PASSKEY_TOKEN_URL = "/api/v1/auth/passkey/token"  # noqa: S105 - a path
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
DEFAULT_ARGON2_LOGINS = 15


def _settings(database_url: str, argon2: dict[str, Any]) -> Settings:
    return Settings(
        _env_file=None,
        SECRET_KEY="bench-" + "k" * 58,
        DATABASE_URL=database_url,
        RATE_LIMIT_LOGIN="1000000/minute",
        RATE_LIMIT_DEFAULT="1000000/minute",
        **argon2,
    )


def _expect(response: Response, status: int = 200) -> Response:
    if response.status_code != status:
        raise SystemExit(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response


async def _enrol(client: AsyncClient, username: str) -> SoftwareAuthenticator:
    """Register a passkey for `username`, as a front end does."""
    form = {"username": username, "password": PASSWORD}
    token = _expect(await client.post(TOKEN_URL, data=form)).json()["access_token"]
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
        json={"name": "bench", "credential": authenticator.create(_expect(options).json())},
    )
    _expect(created, 201)
    return authenticator


async def _password_login(client: AsyncClient, username: str) -> float:
    start = time.perf_counter()
    _expect(await client.post(TOKEN_URL, data={"username": username, "password": PASSWORD}))
    return (time.perf_counter() - start) * 1000


async def _passkey_login(client: AsyncClient, authenticator: SoftwareAuthenticator) -> float:
    start = time.perf_counter()
    options = _expect(await client.post(OPTIONS_URL)).json()
    asked = time.perf_counter()
    credential = authenticator.get(options)
    signed = time.perf_counter()
    _expect(await client.post(PASSKEY_TOKEN_URL, json={"credential": credential}))
    done = time.perf_counter()
    return ((asked - start) + (done - signed)) * 1000


async def measure(database_url: str, argon2: dict[str, Any], logins: int) -> dict[str, float]:
    app = create_app(_settings(database_url, argon2))
    services = app.state.services
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://localhost") as client,
    ):
        names = []
        for _ in range(logins):
            name = f"bench-{uuid.uuid4().hex[:12]}"
            data = UserCreate(username=name, email=f"{name}@example.com", password=PASSWORD)
            async with services.sessionmaker() as db:
                await create_user(db, services.hasher, data)
            names.append(name)
        authenticators = [await _enrol(client, name) for name in names]
        timings: dict[str, list[float]] = {"password": [], "passkey": []}
        # Alternated, so that both kinds meet the same load on the machine.
        for name, authenticator in zip(names, authenticators, strict=True):
            timings["password"].append(await _password_login(client, name))
            timings["passkey"].append(await _passkey_login(client, authenticator))
    return {kind: statistics.median(values) for kind, values in timings.items()}


def _report(label: str, logins: int, medians: dict[str, float]) -> None:
    password, passkey = medians["password"], medians["passkey"]
    print(
        f"{label:<34} {logins:>5} logins each: password {password:7.2f} ms, "
        f"passkey {passkey:7.2f} ms ({passkey - password:+.2f} ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    args = parser.parse_args()
    for label, argon2, logins in (
        ("cheap Argon2 (1 pass, 1 MiB)", CHEAP_ARGON2, args.logins),
        ("default Argon2 (3 passes, 64 MiB)", {}, DEFAULT_ARGON2_LOGINS),
    ):
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        _report(label, logins, await measure(url, argon2, logins))


if __name__ == "__main__":
    asyncio.run(main())
