"""What the login benchmarks share (two_factor_login.py, passkey_login.py): the app
in-process with Argon2 settings of the run's choice, throwaway users, the runs at cheap
and at default Argon2 settings, and the line each run prints.

Imported with a rendered project's Python: its package must be importable.
"""

import argparse
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from httpx import ASGITransport, AsyncClient, Response
from secure_api.config import Settings
from secure_api.factory import create_app
from secure_api.services import Services
from secure_api.users.schemas import UserCreate
from secure_api.users.service import create_user

PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench's own throwaway users
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
DEFAULT_ARGON2_LOGINS = 15
# Milliseconds of each login, by kind; the kinds alternate, meeting the same load.
Timings = dict[str, list[float]]


def expect(response: Response, status: int = 200) -> Response:
    if response.status_code != status:
        raise SystemExit(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response


@asynccontextmanager
async def app_client(
    database_url: str, argon2: dict[str, Any]
) -> AsyncIterator[tuple[AsyncClient, Services]]:
    """The app started in-process (ASGI, no network), limits out of the way."""
    settings = Settings(
        _env_file=None,
        SECRET_KEY="bench-" + "k" * 58,
        DATABASE_URL=database_url,
        RATE_LIMIT_LOGIN="1000000/minute",
        RATE_LIMIT_DEFAULT="1000000/minute",
        **argon2,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://localhost") as client,
    ):
        yield client, app.state.services


async def make_users(services: Services, count: int) -> list[str]:
    """The names of `count` new users, each with the password PASSWORD."""
    names = []
    for _ in range(count):
        name = f"bench-{uuid.uuid4().hex[:12]}"
        data = UserCreate(username=name, email=f"{name}@example.com", password=PASSWORD)
        async with services.sessionmaker() as db:
            await create_user(db, services.hasher, data)
        names.append(name)
    return names


async def password_login(client: AsyncClient, form: dict[str, str]) -> Response:
    return expect(await client.post(TOKEN_URL, data=form))


Measure = Callable[[str, dict[str, Any], int], Awaitable[Timings]]


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    return parser


async def run_both_settings(
    measure: Measure,
    describe: Callable[[dict[str, float]], str],
    logins: int,
    database_url: str | None = None,
) -> None:
    """`measure` at cheap Argon2 settings, so that what it compares shows against the rest
    of a login, then at the default (production) ones for a few logins, to set it against
    the password hash; one line of medians each."""
    for label, argon2, count in (
        ("cheap Argon2 (1 pass, 1 MiB)", CHEAP_ARGON2, logins),
        ("default Argon2 (3 passes, 64 MiB)", {}, DEFAULT_ARGON2_LOGINS),
    ):
        url = database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        timings = await measure(url, argon2, count)
        medians = {kind: statistics.median(values) for kind, values in timings.items()}
        print(f"{label:<34} {count:>5} logins each: {describe(medians)}")
