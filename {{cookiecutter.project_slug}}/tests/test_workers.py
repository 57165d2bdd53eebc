"""Two served processes sharing one database and one Redis, as two workers would."""

{% if cookiecutter.multi_tenancy == "yes" -%}
import asyncio
{% endif -%}
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

import httpx
import pytest
import redis
{%- if cookiecutter.multi_tenancy == "yes" %}
from sqlalchemy import insert
{%- endif %}

{% if cookiecutter.multi_tenancy == "yes" -%}
from {{ cookiecutter.project_slug }}.db import create_engine, utcnow
{% endif -%}
from {{ cookiecutter.project_slug }}.redis_counts import batch_size
from {{ cookiecutter.project_slug }}.redis_feed import INVALIDATION_CHANNEL
from {{ cookiecutter.project_slug }}.redis_state import FEED_PROBE_KEY
{%- if cookiecutter.multi_tenancy == "yes" %}
from {{ cookiecutter.project_slug }}.security.scopes import OrganizationRole
from {{ cookiecutter.project_slug }}.tenancy.models import Membership
{%- endif %}

from .conftest import PASSWORD
from .crowd import all_at_once, loopback, served_client_from
from .processes import app_environment, served_app
from .redis_server import RedisServer

TOKEN_URL = "/api/v1/auth/token"
ME_URL = "/api/v1/users/me"
SESSIONS_URL = "/api/v1/users/me/sessions"
LOGIN_LIMIT = 8
# RATE_LIMIT_DEFAULT: a batch of 10 (redis_counts.batch_size).
DEFAULT_LIMIT = 200
WORKERS = 2
FEED_TIMEOUT_SECONDS = 10.0


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
{%- if cookiecutter.database == "postgresql" %}
def workers_database(database_url: str) -> str:
    """The database both workers share: the suite's."""
    return database_url
{%- else %}
def workers_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database both workers share: a SQLite file of their own."""
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('workers-db') / 'shared.db'}"
{%- endif %}


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, workers_database: str, redis_server: RedisServer
) -> Iterator[tuple[str, str]]:
    workdir = tmp_path_factory.mktemp("workers")
    env = app_environment(
        workers_database,
        REDIS_URL=redis_server.url,
        RATE_LIMIT_LOGIN=f"{LOGIN_LIMIT}/minute",
        RATE_LIMIT_DEFAULT=f"{DEFAULT_LIMIT}/minute",
        # A spent refresh token presented at once counts as theft, as it would later.
        REFRESH_REUSE_GRACE_SECONDS="0",
    )
    with ExitStack() as stack:
        # One after the other: the first one migrates and creates the admin.
        first = stack.enter_context(served_app(workdir, env))
        second = stack.enter_context(served_app(workdir, env))
        _wait_for_feeds(redis_server.url)
        yield first, second


def _wait_for_feeds(redis_url: str) -> None:
    """Until both workers' invalidation feeds are subscribed."""
    with redis.Redis.from_url(redis_url, socket_timeout=5) as control:
        deadline = time.monotonic() + FEED_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if _subscribers(control) == WORKERS:
                return
            time.sleep(0.05)
    pytest.fail(f"the workers' feeds did not subscribe within {FEED_TIMEOUT_SECONDS}s")


def _subscribers(control: redis.Redis) -> int:
    ((_, count),) = control.pubsub_numsub(INVALIDATION_CHANNEL)
    return int(count)


def _login(base_url: str, address: str = "127.0.0.1") -> dict[str, str]:
    """Logged in as the admin, from the loopback `address`: each has its own login budget."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address)) as client:
        response = client.post(
            f"{base_url}{TOKEN_URL}", data={"username": "admin", "password": PASSWORD}, timeout=10
        )
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _me(base_url: str, tokens: dict[str, str]) -> int:
    return httpx.get(f"{base_url}{ME_URL}", headers=_bearer(tokens), timeout=10).status_code


def _sessions(base_url: str, tokens: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}{SESSIONS_URL}", headers=_bearer(tokens), timeout=10)
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.json()
    return listed


def _refresh(base_url: str, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/refresh", json={"refresh_token": refresh_token}, timeout=10
    )


def test_logout_on_one_worker_is_seen_by_the_other_at_once(workers: tuple[str, str]) -> None:
    first, second = workers
    tokens = _login(first)
    assert _me(second, tokens) == 200  # now in the second worker's cache
    logout = httpx.post(f"{first}/api/v1/auth/logout", headers=_bearer(tokens), timeout=10)
    assert logout.status_code == 204
    assert _me(second, tokens) == 401


def test_refresh_reuse_on_one_worker_ends_the_family_on_the_other(
    workers: tuple[str, str],
) -> None:
    first, second = workers
    original = _login(first)
    rotated = _refresh(first, original["refresh_token"]).json()
    assert _me(first, rotated) == 200
    assert _refresh(second, original["refresh_token"]).status_code == 401
    assert _me(first, rotated) == 401


def test_a_session_ended_on_one_worker_is_refused_by_the_other_at_once(
    workers: tuple[str, str],
) -> None:
    first, second = workers
    # Logins from addresses of their own leave 127.0.0.1's login budget to the test below.
    kept = _login(first, "127.0.3.1")
    ended = _login(first, "127.0.3.2")
    assert _me(second, ended) == 200  # now in the second worker's cache
    (row,) = [row for row in _sessions(second, ended) if row["current"]]
    assert row["ip_address"] == "127.0.3.2"

    response = httpx.delete(f"{first}{SESSIONS_URL}/{row['id']}", headers=_bearer(kept), timeout=10)

    assert response.status_code == 204
    assert _me(second, ended) == 401
    assert _refresh(second, ended["refresh_token"]).status_code == 401
    assert [row["ip_address"] for row in _sessions(second, kept)] == ["127.0.3.1"]


def test_login_limit_is_one_budget_across_workers(workers: tuple[str, str]) -> None:
    first, second = workers
    form = {"username": "nobody", "password": PASSWORD}
    statuses = []
    for attempt in range(2 * LOGIN_LIMIT):
        target = (first, second)[attempt % 2]
        statuses.append(httpx.post(f"{target}{TOKEN_URL}", data=form, timeout=10).status_code)
        if statuses[-1] == 429:
            break
    # The module's earlier tests spent 2 of the address's budget on logins (refreshes
    # count against RATE_LIMIT_REFRESH).
    assert statuses.count(429) == 1
    assert len(statuses) == LOGIN_LIMIT - 2 + 1


# The tests below log in from another address: the one above spent 127.0.0.1's budget.
OTHER_ADDRESS = "127.0.0.3"
MAX_MONITORED_COMMANDS = 100


def _commands_sent_during(redis_url: str, action: Callable[[], object]) -> list[str]:
    """The commands clients sent Redis while `action` ran, as MONITOR shows them. Left
    out: the commands a script runs inside Redis (not round trips), and those of the
    workers' invalidation feeds (their heartbeat, on a connection of its own, and the
    probe each writes through the pool)."""
    end_marker = "end-of-action"
    watcher = redis.Redis.from_url(redis_url, socket_timeout=5)
    marker = redis.Redis.from_url(redis_url, socket_timeout=5)
    # Connected before the monitor starts, so the marker below opens no connection.
    marker.ping()
    feeds = {client["addr"] for client in marker.client_list(_type="pubsub")}
    assert len(feeds) == WORKERS
    commands: list[str] = []
    # redis-py leaves monitor() unannotated.
    with watcher, marker, watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        action()
        marker.echo(end_marker)
        for _ in range(MAX_MONITORED_COMMANDS):
            command = monitor.next_command()
            if command["command"] == f"ECHO {end_marker}":
                return commands
            sender = f"{command['client_address']}:{command['client_port']}"
            probe = FEED_PROBE_KEY in command["command"]
            if command["client_type"] != "lua" and sender not in feeds and not probe:
                commands.append(command["command"].split()[0].upper())
    pytest.fail(f"more than {MAX_MONITORED_COMMANDS} commands: {commands}")


def _new_user(base_url: str, address: str) -> dict[str, str]:
    """A user of their own, with a RATE_LIMIT_DEFAULT budget nobody else spent; logged in."""
    name = f"user{uuid.uuid4().hex[:8]}"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10) as client:
        registered = client.post(
            f"{base_url}/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert registered.status_code == 201, registered.text
        response = client.post(
            f"{base_url}{TOKEN_URL}", data={"username": name, "password": PASSWORD}
        )
    assert response.status_code == 200
    tokens: dict[str, str] = response.json()
    return tokens


def test_a_cached_request_sends_nothing_to_redis(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    first, _ = workers
    _wait_for_feeds(redis_server.url)
    tokens = _new_user(first, OTHER_ADDRESS)
    assert _me(first, tokens) == 200  # a database lookup, then cached
    assert _me(first, tokens) == 200  # the window's first count here: sent, read back
    assert _commands_sent_during(redis_server.url, lambda: None) == []
    statuses: list[int] = []
    commands = _commands_sent_during(redis_server.url, lambda: statuses.append(_me(first, tokens)))
    assert statuses == [200]
    # The version comes from the worker's memory, the count waits for its batch.
    assert commands == []


def test_a_revocation_while_the_feeds_are_down_counts_on_every_worker_at_once(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    first, second = workers
    unheard = False
    with redis.Redis.from_url(redis_server.url, socket_timeout=5) as control:
        # Each try kills the feeds, then logs out before they are back (a feed waits
        # half a second before it reconnects); a slow machine may need another try.
        for attempt in range(3):
            _wait_for_feeds(redis_server.url)
            tokens = _login(first, f"127.0.6.{attempt + 1}")
            for base_url in (first, second):
                assert _me(base_url, tokens) == 200
                assert _me(base_url, tokens) == 200  # cached, served from memory
            assert control.client_kill_filter(_type="pubsub") == WORKERS
            logout = httpx.post(f"{first}/api/v1/auth/logout", headers=_bearer(tokens), timeout=10)
            # No feed was subscribed when the logout published its bump: none heard it.
            unheard = _subscribers(control) == 0
            assert logout.status_code == 204
            assert _me(second, tokens) == 401
            assert _me(first, tokens) == 401
            if unheard:
                break
    assert unheard, "the feeds were back before every logout: the outage was not tested"
    _wait_for_feeds(redis_server.url)


async def _hammer(
    base_urls: tuple[str, ...], address: str, tokens: dict[str, str], times: int
) -> list[int]:
    """`times` requests from `address`, to each worker in turn; their statuses."""
    statuses = []
    async with served_client_from(base_urls[0], address) as client:
        for number in range(times):
            url = f"{base_urls[number % len(base_urls)]}{ME_URL}"
            statuses.append((await client.get(url, headers=_bearer(tokens))).status_code)
    return statuses


async def test_the_default_limit_overshoots_by_at_most_a_batch_per_worker(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    _wait_for_feeds(redis_server.url)
    tokens = _new_user(workers[0], "127.0.7.1")
    crowd, each = 30, 10
    answers = await all_at_once(
        [partial(_hammer, workers, loopback(number), tokens, each) for number in range(crowd)]
    )
    statuses = Counter(status for client in answers for status in client)
    assert set(statuses) == {200, 429}
    overshoot = statuses[200] - DEFAULT_LIMIT
    # The bound docs/rate-limits.md states: less than one batch per worker.
    assert 0 <= overshoot <= WORKERS * (batch_size(DEFAULT_LIMIT) - 1)


def test_a_logout_after_a_redis_restart_is_seen_by_the_other_worker_at_once(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    first, second = workers
    tokens = _login(first, OTHER_ADDRESS)
    assert _me(second, tokens) == 200  # now in the second worker's cache
    # Redis forgets every version and every script the workers had loaded.
    redis_server.stop()
    redis_server.start()
    assert _me(second, tokens) == 200
    logout = httpx.post(
        f"{first}/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert logout.status_code == 204
    assert _me(second, tokens) == 401


def test_a_session_ended_while_redis_refuses_writes_is_refused_by_every_worker(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    # A refresh token used twice ends its session after the commit; Redis, out of memory,
    # refuses the bump that would tell the other worker. Its feed stops vouching anyway:
    # its probe writes are refused too, before the reuse is answered.
    first, second = workers
    _wait_for_feeds(redis_server.url)
    tokens = _login(first, "127.0.8.1")
    for base_url in (first, second):
        assert _me(base_url, tokens) == 200
        assert _me(base_url, tokens) == 200  # cached, served from memory
    assert _refresh(first, tokens["refresh_token"]).status_code == 200
    with redis.Redis.from_url(redis_server.url, socket_timeout=5) as control:
        control.config_set("maxmemory", "1")
        try:
            assert _refresh(first, tokens["refresh_token"]).status_code == 401
            assert _me(second, tokens) in (401, 503)
        finally:
            control.config_set("maxmemory", "0")
    _wait_for_feeds(redis_server.url)
    assert [_me(first, tokens), _me(second, tokens)] == [401, 401]


def test_a_redis_restored_from_an_older_snapshot_revives_no_session(
    workers: tuple[str, str], redis_server: RedisServer
) -> None:
    # A restart from the last snapshot (or a failover to a replica that missed the bump)
    # brings back the version the second worker cached the session under.
    first, second = workers
    _wait_for_feeds(redis_server.url)
    tokens = _login(first, "127.0.8.2")
    assert [_me(second, tokens), _me(second, tokens)] == [200, 200]
    with redis.Redis.from_url(redis_server.url, socket_timeout=5) as control:
        control.save()
    logout = httpx.post(f"{first}/api/v1/auth/logout", headers=_bearer(tokens), timeout=10)
    assert logout.status_code == 204
    redis_server.stop()
    redis_server.start()
    (redis_server.workdir / "dump.rdb").unlink()
    _wait_for_feeds(redis_server.url)
    assert _me(second, tokens) == 401
{%- if cookiecutter.multi_tenancy == "yes" %}


def _as(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def _add_member(database_url: str, organization_id: str, user_id: str) -> None:
    async def insert_row() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(
                insert(Membership).values(
                    id=uuid.uuid4(),
                    organization_id=uuid.UUID(organization_id),
                    user_id=uuid.UUID(user_id),
                    role=OrganizationRole.MEMBER,
                    created_at=utcnow(),
                )
            )
        await engine.dispose()

    asyncio.run(insert_row())


def test_a_member_removed_on_one_worker_is_cut_off_on_the_other_at_once(
    workers: tuple[str, str], workers_database: str
) -> None:
    first, second = workers
    tag = uuid.uuid4().hex[:8]
    users = {}
    for number, name in enumerate(("owner", "member")):
        with _as(f"127.0.5.{number + 1}") as client:
            registered = client.post(
                f"{first}/api/v1/auth/register",
                json={
                    "username": f"{name}{tag}",
                    "email": f"{name}{tag}@example.com",
                    "password": PASSWORD,
                },
            )
            assert registered.status_code == 201, registered.text
            users[name] = registered.json()["id"]
    with _as("127.0.5.3") as client:
        unbound = client.post(
            f"{first}{TOKEN_URL}", data={"username": f"owner{tag}", "password": PASSWORD}
        ).json()
        organization = client.post(
            f"{first}/api/v1/organizations",
            headers=_bearer(unbound),
            json={"name": "Workers", "slug": f"workers-{tag}"},
        ).json()
        _add_member(workers_database, organization["id"], users["member"])
        owner, member = (
            client.post(
                f"{first}{TOKEN_URL}",
                data={
                    "username": f"{name}{tag}",
                    "password": PASSWORD,
                    "organization": organization["id"],
                },
            ).json()
            for name in ("owner", "member")
        )
    key = httpx.post(
        f"{first}/api/v1/api-keys",
        headers=_bearer(member),
        json={"name": "script", "scopes": ["items:read"]},
        timeout=10,
    ).json()["key"]
    items = "/api/v1/items"
    # Both workers know the member's session, and the key works.
    for base_url in (first, second):
        assert (
            httpx.get(f"{base_url}{items}", headers=_bearer(member), timeout=10).status_code == 200
        )
    assert httpx.get(f"{second}{items}", headers={"X-API-Key": key}, timeout=10).status_code == 200

    removed = httpx.delete(
        f"{first}/api/v1/organizations/{organization['id']}/members/{users['member']}",
        headers=_bearer(owner),
        timeout=10,
    )

    assert removed.status_code == 204
    assert httpx.get(f"{second}{items}", headers=_bearer(member), timeout=10).status_code == 401
    assert httpx.get(f"{second}{items}", headers={"X-API-Key": key}, timeout=10).status_code == 401
{%- endif %}
