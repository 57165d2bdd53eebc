"""The purge of expired rows: what goes, what stays, and the app's periodic pass."""

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.project_slug }}.api_keys.models import ApiKey
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.db import utcnow
from {{ cookiecutter.project_slug }}.factory import create_app
from {{ cookiecutter.project_slug }}.purge import (
    DEAD_KEY_DAYS,
    GRACE,
    TASK_NAME,
    periodic_purge,
    purge_expired,
    purge_periodically,
)
from {{ cookiecutter.project_slug }}.services import Services
from {{ cookiecutter.project_slug }}.users.models import (
    ActionToken,
    Purpose,
    RefreshToken,
    User,
    UserSession,
)

from .conftest import CapturedLogs, UserFactory, bearer, login, make_settings

LONG_AGO = timedelta(days=DEAD_KEY_DAYS + 1)
# Past the grace, not yet past the retention of dead keys.
A_WHILE_AGO = GRACE + timedelta(minutes=5)
{%- if cookiecutter.passkeys == "yes" %}
TABLES = (
    "refresh_tokens",
    "user_sessions",
    "action_tokens",
    "api_keys",
    "audit_events",
    "passkey_challenges",
)
{%- else %}
TABLES = ("refresh_tokens", "user_sessions", "action_tokens", "api_keys", "audit_events")
{%- endif %}
REFRESH_URL = "/api/v1/auth/refresh"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A spent refresh token presented again ends its session at once, grace or not.
    return {"REFRESH_REUSE_GRACE_SECONDS": 0}


class Rows:
    """Rows of one user, written straight to the database with the times a test needs."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], user: User) -> None:
        self.sessionmaker = sessionmaker
        self.user = user
        self.now = utcnow()

    async def _add(self, row: Any) -> Any:
        async with self.sessionmaker() as db:
            db.add(row)
            await db.commit()
        return row

    async def login_session(
        self, *, expires_in: timedelta, revoked_ago: timedelta | None = None
    ) -> uuid.UUID:
        row = await self._add(
            UserSession(
                user_id=self.user.id,
                scope="users:read",
                created_at=self.now - timedelta(days=1),
                expires_at=self.now + expires_in,
                revoked_at=None if revoked_ago is None else self.now - revoked_ago,
            )
        )
        session_id: uuid.UUID = row.id
        return session_id

    async def refresh_token(
        self,
        session_id: uuid.UUID,
        *,
        used_ago: timedelta | None = None,
        expires_in: timedelta = timedelta(days=1),
    ) -> str:
        token_hash = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        await self._add(
            RefreshToken(
                token_hash=token_hash,
                session_id=session_id,
                expires_at=self.now + expires_in,
                used_at=None if used_ago is None else self.now - used_ago,
            )
        )
        return token_hash

    async def link(self, *, expires_in: timedelta, used_ago: timedelta | None = None) -> str:
        token_hash = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        await self._add(
            ActionToken(
                token_hash=token_hash,
                user_id=self.user.id,
                purpose=Purpose.RESET_PASSWORD,
                email=self.user.email,
                expires_at=self.now + expires_in,
                used_at=None if used_ago is None else self.now - used_ago,
            )
        )
        return token_hash

    async def api_key(
        self, *, expires_in: timedelta | None = None, revoked_ago: timedelta | None = None
    ) -> uuid.UUID:
        row = await self._add(
            ApiKey(
                user_id=self.user.id,
                name="key",
                prefix="sk_test",
                key_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                scope="users:read",
                expires_at=None if expires_in is None else self.now + expires_in,
                revoked_at=None if revoked_ago is None else self.now - revoked_ago,
            )
        )
        key_id: uuid.UUID = row.id
        return key_id


async def _ids(services: Services, column: Any) -> set[Any]:
    async with services.sessionmaker() as db:
        return set(await db.scalars(select(column)))


async def test_purge_deletes_what_ended_and_keeps_what_lives(
    services: Services, settings: Settings, make_user: UserFactory
) -> None:
    rows = Rows(services.sessionmaker, await make_user())
    live = await rows.login_session(expires_in=timedelta(days=3))
    live_tokens = {
        await rows.refresh_token(live, used_ago=timedelta(days=2)),
        await rows.refresh_token(live, used_ago=A_WHILE_AGO),
        await rows.refresh_token(live),
        await rows.refresh_token(live, expires_in=-timedelta(minutes=1)),
    }
    # Refresh tokens outlive no session today; one that expired alone would go too.
    await rows.refresh_token(live, expires_in=-A_WHILE_AGO)
    logged_out = await rows.login_session(expires_in=timedelta(days=3), revoked_ago=A_WHILE_AGO)
    await rows.refresh_token(logged_out, used_ago=timedelta(hours=3))
    await rows.refresh_token(logged_out)
    expired = await rows.login_session(expires_in=-A_WHILE_AGO)
    await rows.refresh_token(expired)
    just_logged_out = await rows.login_session(
        expires_in=timedelta(days=3), revoked_ago=timedelta(minutes=1)
    )
    just_logged_out_token = await rows.refresh_token(just_logged_out)
    just_expired = await rows.login_session(expires_in=-timedelta(minutes=1))

    unused_link = await rows.link(expires_in=timedelta(minutes=20))
    just_used_link = await rows.link(expires_in=timedelta(minutes=20), used_ago=timedelta(0))
    await rows.link(expires_in=timedelta(minutes=20), used_ago=A_WHILE_AGO)
    await rows.link(expires_in=-A_WHILE_AGO)

    live_key = await rows.api_key()
    expiring_key = await rows.api_key(expires_in=timedelta(days=1))
    recently_revoked_key = await rows.api_key(revoked_ago=timedelta(days=1))
    recently_expired_key = await rows.api_key(expires_in=-timedelta(days=1))
    await rows.api_key(revoked_ago=LONG_AGO)
    await rows.api_key(expires_in=-LONG_AGO)

    counts = await purge_expired(services.engine, settings)

    assert counts == {
        "refresh_tokens": 4,
        "user_sessions": 2,
        "action_tokens": 2,
        "api_keys": 2,
        "audit_events": 0,
{%- if cookiecutter.passkeys == "yes" %}
        "passkey_challenges": 0,
{%- endif %}
    }
    assert await _ids(services, UserSession.id) == {live, just_logged_out, just_expired}
    assert await _ids(services, RefreshToken.token_hash) == {*live_tokens, just_logged_out_token}
    assert await _ids(services, ActionToken.token_hash) == {unused_link, just_used_link}
    assert await _ids(services, ApiKey.id) == {
        live_key,
        expiring_key,
        recently_revoked_key,
        recently_expired_key,
    }
    # A second pass finds nothing left to do.
    assert await purge_expired(services.engine, settings) == dict.fromkeys(TABLES, 0)


async def _audit_event(services: Services, age: timedelta) -> uuid.UUID:
    async with services.sessionmaker() as db:
        row = AuditEvent(event="login_succeeded", created_at=utcnow() - age, details={})
        db.add(row)
        await db.commit()
    return row.id


@pytest.mark.parametrize("days", [90, 1])
async def test_audit_events_go_after_the_retention_and_not_before(
    services: Services, db_url: str, days: int
) -> None:
    retention = timedelta(days=days)
    await _audit_event(services, retention + timedelta(minutes=1))
    kept = {
        await _audit_event(services, retention - timedelta(minutes=1)),
        await _audit_event(services, timedelta(0)),
    }

    counts = await purge_expired(services.engine, make_settings(db_url, AUDIT_RETENTION_DAYS=days))

    assert counts["audit_events"] == 1
    assert await _ids(services, AuditEvent.id) == kept


@pytest.mark.parametrize("days", [0, -1, 100 * 366 + 1])
def test_audit_retention_out_of_range_is_refused(db_url: str, days: int) -> None:
    with pytest.raises(ValidationError, match="AUDIT_RETENTION_DAYS"):
        make_settings(db_url, AUDIT_RETENTION_DAYS=days)


async def test_ended_session_takes_its_refresh_tokens_with_it_through_the_foreign_key(
    services: Services, make_user: UserFactory
) -> None:
    """The purge deletes them itself; the cascade catches any written in between, so the
    foreign keys must be enforced (SQLite needs PRAGMA foreign_keys on every connection)."""
    rows = Rows(services.sessionmaker, await make_user())
    ended = await rows.login_session(expires_in=-A_WHILE_AGO)
    await rows.refresh_token(ended)
    async with services.sessionmaker() as db:
        await db.delete(await db.get_one(UserSession, ended))
        await db.commit()
    assert await _ids(services, RefreshToken.token_hash) == set()


async def test_after_a_purge_a_spent_refresh_token_still_ends_its_live_session(
    services: Services, settings: Settings, client: AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user()
    first = await login(client, user.username)
    refreshed = await client.post(REFRESH_URL, json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200
    second = refreshed.json()
    other = await login(client, user.username)
    assert (await client.post("/api/v1/auth/logout", headers=bearer(other))).status_code == 204

    counts = await purge_expired(services.engine, settings, now=utcnow() + A_WHILE_AGO)

    assert counts["user_sessions"] == 1
    assert counts["refresh_tokens"] == 1
    reused = await client.post(REFRESH_URL, json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # Theft noticed: the session that kept its spent token is over.
    refreshed_again = await client.post(
        REFRESH_URL, json={"refresh_token": second["refresh_token"]}
    )
    assert refreshed_again.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=bearer(second))).status_code == 401


def _purge_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == TASK_NAME]


async def _until(condition: Callable[[], Any]) -> None:
    """Wait up to 10 s for `condition`: the passes run every 50 ms."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.02)
    pytest.fail("condition not reached within 10 s")


async def test_periodic_purge_runs_passes_and_survives_a_failing_one(
    services: Services, settings: Settings, make_user: UserFactory, logs: CapturedLogs
) -> None:
    rows = Rows(services.sessionmaker, await make_user())
    async with services.engine.begin() as connection:
        await connection.exec_driver_sql("ALTER TABLE action_tokens RENAME TO action_tokens_away")
    try:
        task = asyncio.create_task(purge_periodically(services.engine, settings, 0.05))

        async def failed() -> bool:
            return any(line["level"] == "ERROR" for line in logs.lines())

        await _until(failed)
    finally:
        async with services.engine.begin() as connection:
            await connection.exec_driver_sql(
                "ALTER TABLE action_tokens_away RENAME TO action_tokens"
            )
    expired_link = await rows.link(expires_in=-A_WHILE_AGO)

    def passes() -> list[str]:
        return [
            line["message"]
            for line in logs.lines()
            if line["message"].startswith("purged expired rows: ")
        ]

    async def link_purged() -> bool:
        return any("1 action_tokens" in message for message in passes())

    await _until(link_purged)
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    assert expired_link not in await _ids(services, ActionToken.token_hash)
    failure = next(line for line in logs.lines() if line["level"] == "ERROR")
    assert failure["message"] == "purge of expired rows failed; the next pass runs as planned"
    assert "action_tokens" in failure["exc_info"]
    assert (
        "purged expired rows: 0 refresh_tokens, 0 user_sessions, 1 action_tokens, 0 api_keys, "
{%- if cookiecutter.passkeys == "yes" %}
        "0 audit_events, 0 passkey_challenges" in passes()
{%- else %}
        "0 audit_events" in passes()
{%- endif %}
    )


async def test_periodic_purge_stops_when_its_block_ends(
    services: Services, settings: Settings, make_user: UserFactory
) -> None:
    rows = Rows(services.sessionmaker, await make_user())
    # The app of the fixture runs its own, one PURGE_INTERVAL_MINUTES apart.
    apps_task = set(_purge_tasks())
    async with periodic_purge(services.engine, settings, interval_seconds=0.05):
        (task,) = set(_purge_tasks()) - apps_task
        await rows.login_session(expires_in=-A_WHILE_AGO)

        async def sessions_gone() -> bool:
            return await _ids(services, UserSession.id) == set()

        await _until(sessions_gone)
    assert task.cancelled()


async def test_the_app_purges_in_the_background_until_shutdown(db_url: str) -> None:
    app = create_app(make_settings(db_url, PURGE_INTERVAL_MINUTES=1))
    async with app.router.lifespan_context(app):
        running = _purge_tasks()
        assert len(running) == 1
        assert not running[0].done()
    assert running[0].cancelled()
    assert _purge_tasks() == []


async def test_purge_interval_zero_runs_no_purge_in_the_app(db_url: str) -> None:
    app = create_app(make_settings(db_url, PURGE_INTERVAL_MINUTES=0))
    async with app.router.lifespan_context(app):
        assert _purge_tasks() == []


@pytest.mark.parametrize("minutes", [-1, 7 * 24 * 60 + 1])
def test_purge_interval_out_of_range_is_refused(db_url: str, minutes: int) -> None:
    with pytest.raises(ValidationError, match="PURGE_INTERVAL_MINUTES"):
        make_settings(db_url, PURGE_INTERVAL_MINUTES=minutes)
