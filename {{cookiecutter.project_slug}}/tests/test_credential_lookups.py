"""Junk credentials cannot buy database work: each lookup (an API key, a token the cache
does not know) is counted against the client address before it runs, so a crowd of
them sent at once from one address makes at most RATE_LIMIT_DEFAULT's worth.

The app is served by uvicorn in the test's own process, so the statements it sends to
the database can be counted; the crowd connects first and then writes every request in
one go, so the server reads them all at once.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from {{ cookiecutter.project_slug }}.services import Services

from .conftest import UserFactory, free_port, login
from .crowd import CROWD_TIMEOUT_SECONDS, loopback

ME_URL = "/api/v1/users/me"
DEFAULT_LIMIT = 20
{%- if cookiecutter.use_redis == "yes" %}
# Five times the budget, and fewer at once than Redis connections in the pool
# (redis_state.py): past that, counts fall back to the process's own while the pool is
# exhausted, and the bound is per store.
CROWD = 100
{%- else %}
CROWD = 300
{%- endif %}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RATE_LIMIT_DEFAULT": f"{DEFAULT_LIMIT}/hour"}


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    """The app (its lifespan already run by the `app` fixture) behind a real uvicorn."""
    port = free_port()
    # No WebSocket protocol: the app serves none, and loading one only imports websockets.
    # A bounded shutdown: a crowd left half-answered by a failure must not hang the suite.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        ws="none",
        timeout_graceful_shutdown=5,
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    async with asyncio.timeout(CROWD_TIMEOUT_SECONDS):
        # uvicorn's Server has a `started` flag, no event to wait on.
        while not served.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    await task


@contextmanager
def statements_on(services: Services, table: str) -> Iterator[list[str]]:
    """Every SQL statement sent while inside that reads or writes `table`."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if table in statement:
            seen.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]


async def _crowd_from_one_address(
    base_url: str, headers: Callable[[int], dict[str, str]]
) -> list[Answer]:
    """CROWD requests for /users/me from one address, each on a connection of its own,
    all connected first and then written at once (clients that each build a request
    as they are released arrive spread out)."""
    url = httpx.URL(base_url)
    connections = [
        await asyncio.open_connection(url.host, url.port, local_addr=(loopback(0), 0))
        for _ in range(CROWD)
    ]
    for number, (_reader, writer) in enumerate(connections):
        lines = [f"GET {ME_URL} HTTP/1.1", f"Host: {url.host}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers(number).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    async with asyncio.timeout(CROWD_TIMEOUT_SECONDS):
        answers = [await _answer(reader) for reader, _writer in connections]
    for _reader, writer in connections:
        writer.close()
    return answers


async def _answer(reader: asyncio.StreamReader) -> Answer:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in head[1:] if line)
    return Answer(
        int(head[0].split()[1]), {name.lower(): value.strip() for name, _, value in fields}
    )


def _assert_budget_held(answers: list[Answer], lookups: int) -> None:
    """At most the budget's worth were looked up, each a 401; every other one a 429."""
    assert 0 < lookups <= DEFAULT_LIMIT
    assert Counter(answer.status_code for answer in answers) == {
        401: lookups,
        429: CROWD - lookups,
    }
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1


async def test_parallel_junk_api_keys_from_one_address_look_up_at_most_the_budget(
    server: str, services: Services
) -> None:
    with statements_on(services, "api_keys") as lookups:
        answers = await _crowd_from_one_address(
            server, lambda number: {"X-API-Key": f"junk-{number:04d}"}
        )
    assert len(lookups) == DEFAULT_LIMIT
    _assert_budget_held(answers, len(lookups))


async def test_a_logged_out_token_sent_in_parallel_looks_up_at_most_the_budget(
    server: str, services: Services, make_user: UserFactory
) -> None:
    user = await make_user()
    async with httpx.AsyncClient(base_url=server) as own:
        headers = {"Authorization": f"Bearer {(await login(own, user.username))['access_token']}"}
        assert (await own.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    with statements_on(services, "user_sessions") as lookups:
        answers = await _crowd_from_one_address(server, lambda _number: headers)
    # Requests that read the user's cached entry before the first of them dropped it
    # count against the user's budget too (PrincipalCache.get), so it may run out first.
    _assert_budget_held(answers, len(lookups))


async def test_a_valid_api_key_gives_its_address_reservation_back(
    server: str, make_user: UserFactory
) -> None:
    user = await make_user()
    async with httpx.AsyncClient(base_url=server) as own:
        bearer = {"Authorization": f"Bearer {(await login(own, user.username))['access_token']}"}
        created = await own.post(
            "/api/v1/api-keys", json={"name": "ci", "scopes": ["users:read"]}, headers=bearer
        )
        assert created.status_code == 201, created.text
        key = {"X-API-Key": created.json()["key"]}
    async with httpx.AsyncClient(
        base_url=server, transport=httpx.AsyncHTTPTransport(local_address=loopback(1))
    ) as shared_address:
        # The key's own requests are its user's: the address's budget is still whole
        # for a caller who fails, after as many of them as that budget holds.
        for _ in range(DEFAULT_LIMIT - 2):
            assert (await shared_address.get(ME_URL, headers=key)).status_code == 200
        for _ in range(DEFAULT_LIMIT):
            refused = await shared_address.get(ME_URL, headers={"X-API-Key": "junk"})
            assert refused.status_code == 401
        assert (await shared_address.get(ME_URL, headers={"X-API-Key": "junk"})).status_code == 429
