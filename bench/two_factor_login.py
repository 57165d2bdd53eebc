"""What a login with a TOTP code costs next to one without, in-process, in milliseconds.

Run with a rendered project's Python (its package importable), from anywhere:

    /path/to/secure_api/.venv/bin/python bench/two_factor_login.py [--logins 300]

Logins go through the whole app (ASGI, no network) into a fresh SQLite file, or into
the migrated database of `--database-url` (the users made here are left in it). Each login is
a user's first of its time step (a TOTP step logs in once), so every two-factor login
is a real one: the code checked, its step claimed. Two runs: cheap Argon2 settings, so
that what two-factor adds shows against the rest of a login, and the default (production)
settings for a few logins, to set it against the password hash. Prints medians.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from typing import Any

import pyotp
from httpx import ASGITransport, AsyncClient, Response
from secure_api.config import Settings
from secure_api.factory import create_app
from secure_api.users.schemas import UserCreate
from secure_api.users.service import create_user

PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench's own throwaway users
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path
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


def _expect_ok(response: Response) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url.path}: {response.status_code} {response.text}")


async def _enrol(client: AsyncClient, username: str) -> str:
    """Turn two-factor on for `username`; the confirmation spends the previous step."""
    form = {"username": username, "password": PASSWORD}
    token = (await client.post(TOKEN_URL, data=form)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    setup = await client.post(
        "/api/v1/users/me/mfa/totp", headers=headers, json={"current_password": PASSWORD}
    )
    secret: str = setup.json()["secret"]
    previous = pyotp.TOTP(secret).at(time.time() - 30)
    confirm = await client.post(
        "/api/v1/users/me/mfa/totp/confirm", headers=headers, json={"code": previous}
    )
    _expect_ok(confirm)
    return secret


async def _timed_login(client: AsyncClient, form: dict[str, str]) -> float:
    start = time.perf_counter()
    response = await client.post(TOKEN_URL, data=form)
    elapsed = time.perf_counter() - start
    _expect_ok(response)
    return elapsed * 1000


async def measure(database_url: str, argon2: dict[str, Any], logins: int) -> dict[str, float]:
    app = create_app(_settings(database_url, argon2))
    services = app.state.services
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://localhost") as client,
    ):
        names = {"plain": [], "totp": []}
        for kind in names:
            for _ in range(logins):
                name = f"bench-{uuid.uuid4().hex[:12]}"
                data = UserCreate(username=name, email=f"{name}@example.com", password=PASSWORD)
                async with services.sessionmaker() as db:
                    await create_user(db, services.hasher, data)
                names[kind].append(name)
        secrets = {name: await _enrol(client, name) for name in names["totp"]}
        timings: dict[str, list[float]] = {"plain": [], "totp": []}
        # Alternated, so that both kinds meet the same load on the machine.
        for plain, enrolled in zip(names["plain"], names["totp"], strict=True):
            form = {"username": plain, "password": PASSWORD}
            timings["plain"].append(await _timed_login(client, form))
            otp = pyotp.TOTP(secrets[enrolled]).now()
            form = {"username": enrolled, "password": PASSWORD, "otp": otp}
            timings["totp"].append(await _timed_login(client, form))
    return {kind: statistics.median(values) for kind, values in timings.items()}


def _report(label: str, logins: int, medians: dict[str, float]) -> None:
    plain, totp = medians["plain"], medians["totp"]
    print(
        f"{label:<34} {logins:>5} logins each: without {plain:7.2f} ms, "
        f"with TOTP {totp:7.2f} ms ({totp - plain:+.2f} ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--database-url", help="a migrated database (default: a SQLite file)")
    args = parser.parse_args()
    for label, argon2, logins in (
        ("cheap Argon2 (1 pass, 1 MiB)", CHEAP_ARGON2, args.logins),
        ("default Argon2 (3 passes, 64 MiB)", {}, DEFAULT_ARGON2_LOGINS),
    ):
        url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        _report(label, logins, await measure(url, argon2, logins))


if __name__ == "__main__":
    asyncio.run(main())
