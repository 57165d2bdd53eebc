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

import asyncio
import time
from typing import Any

import pyotp
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


async def _enrol(client: AsyncClient, username: str) -> str:
    """Turn two-factor on for `username`; the confirmation spends the previous step."""
    form = {"username": username, "password": PASSWORD}
    token = (await password_login(client, form)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    setup = await client.post(
        "/api/v1/users/me/mfa/totp", headers=headers, json={"current_password": PASSWORD}
    )
    secret: str = setup.json()["secret"]
    previous = pyotp.TOTP(secret).at(time.time() - 30)
    confirm = await client.post(
        "/api/v1/users/me/mfa/totp/confirm", headers=headers, json={"code": previous}
    )
    expect(confirm)
    return secret


async def _timed_login(client: AsyncClient, form: dict[str, str]) -> float:
    start = time.perf_counter()
    await password_login(client, form)
    return (time.perf_counter() - start) * 1000


async def measure(database_url: str, argon2: dict[str, Any], logins: int) -> Timings:
    async with app_client(database_url, argon2) as (client, services):
        plain_names = await make_users(services, logins)
        enrolled_names = await make_users(services, logins)
        secrets = {name: await _enrol(client, name) for name in enrolled_names}
        timings: Timings = {"plain": [], "totp": []}
        for plain, enrolled in zip(plain_names, enrolled_names, strict=True):
            form = {"username": plain, "password": PASSWORD}
            timings["plain"].append(await _timed_login(client, form))
            otp = pyotp.TOTP(secrets[enrolled]).now()
            form = {"username": enrolled, "password": PASSWORD, "otp": otp}
            timings["totp"].append(await _timed_login(client, form))
    return timings


def _describe(medians: dict[str, float]) -> str:
    plain, totp = medians["plain"], medians["totp"]
    return f"without {plain:7.2f} ms, with TOTP {totp:7.2f} ms ({totp - plain:+.2f} ms)"


async def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--database-url", help="a migrated database (default: a SQLite file)")
    args = parser.parse_args()
    await run_both_settings(measure, _describe, args.logins, args.database_url)


if __name__ == "__main__":
    asyncio.run(main())
