"""Deleting the rows that have expired, so the database does not grow with every login.

One pass (`purge_expired`) runs each rule of `PURGES`, one DELETE per table:

- login sessions that ended (logout, revocation) or expired, with their refresh tokens.
  A live session keeps its refresh tokens, the spent ones too (a spent token presented
  again is how a stolen one is noticed), unless one expired on its own;
- mailed links (email verification, password reset) that were used or expired;
- API keys revoked or expired more than `DEAD_KEY_DAYS` ago: until then an expired key
  still shows in its owner's list, and the id of a revoked key, named in the logs, still
  leads to its row (name, owner, scopes).
- audit events older than AUDIT_RETENTION_DAYS{% if cookiecutter.passkeys == "yes" %};
- passkey challenges that expired unused.{% else %}.{% endif %}

Sessions, refresh tokens and links go `GRACE` after they ended, not at once: a request that read a
session just before it ended may still be writing a refresh token for it.

The app runs a pass every PURGE_INTERVAL_MINUTES (`periodic_purge`, in the lifespan);
the `purge` command (cli.py) runs one, for cron or with the interval at 0.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Delete, delete, or_, select{% if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}, text{% endif %}
from sqlalchemy.ext.asyncio import AsyncEngine

from .api_keys.models import ApiKey
from .audit.models import AuditEvent
from .config import Settings
from .db import utcnow
{%- if cookiecutter.passkeys == "yes" %}
from .passkeys.models import PasskeyChallenge
{%- endif %}
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}
from .tenancy.models import Organization
from .tenancy.row_security import SETTING, protected
{%- endif %}
from .users.models import ActionToken, RefreshToken, UserSession

logger = logging.getLogger(__name__)

GRACE = timedelta(hours=1)
DEAD_KEY_DAYS = 30
TASK_NAME = "purge-expired-rows"

# A rule: the DELETE of one table's expired rows, given the time of the pass and the
# settings (where a retention period is configurable).
PurgeRule = Callable[[datetime, Settings], Delete]


def _session_ended(cutoff: datetime) -> ColumnElement[bool]:
    return or_(UserSession.revoked_at < cutoff, UserSession.expires_at < cutoff)


def expired_refresh_tokens(now: datetime, _settings: Settings) -> Delete:
    cutoff = now - GRACE
    ended = select(UserSession.id).where(_session_ended(cutoff))
    return delete(RefreshToken).where(
        or_(RefreshToken.session_id.in_(ended), RefreshToken.expires_at < cutoff)
    )


def ended_sessions(now: datetime, _settings: Settings) -> Delete:
    return delete(UserSession).where(_session_ended(now - GRACE))


def used_or_expired_links(now: datetime, _settings: Settings) -> Delete:
    cutoff = now - GRACE
    return delete(ActionToken).where(
        or_(ActionToken.used_at < cutoff, ActionToken.expires_at < cutoff)
    )


def long_dead_api_keys(now: datetime, _settings: Settings) -> Delete:
    cutoff = now - timedelta(days=DEAD_KEY_DAYS)
    return delete(ApiKey).where(or_(ApiKey.revoked_at < cutoff, ApiKey.expires_at < cutoff))


def audit_events_past_retention(now: datetime, settings: Settings) -> Delete:
    cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    return delete(AuditEvent).where(AuditEvent.created_at < cutoff)
{%- if cookiecutter.passkeys == "yes" %}


def expired_passkey_challenges(now: datetime, _settings: Settings) -> Delete:
    # No grace: an expired challenge is refused anyway, whoever still holds it.
    return delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now)
{%- endif %}


# Run in this order. A session's refresh tokens go just before the session, so they are
# counted; the foreign key's ON DELETE CASCADE would take any that slipped in between.
# Another table with rows that expire is one more rule here.
PURGES: tuple[PurgeRule, ...] = (
    expired_refresh_tokens,
    ended_sessions,
    used_or_expired_links,
    long_dead_api_keys,
    audit_events_past_retention,
{%- if cookiecutter.passkeys == "yes" %}
    expired_passkey_challenges,
{%- endif %}
)


async def purge_expired(
    engine: AsyncEngine, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """Delete the expired rows of every table in `PURGES`; how many went, per table."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    for rule in PURGES:
        statement = rule(now, settings)
        # A transaction per table: a first purge of a large backlog takes SQLite's
        # write lock in several short turns, not one long one.
        async with engine.begin() as connection:
            result = await connection.execute(statement)
        # Each rule deletes from one table, never from a join or an alias.
        table = statement.table.name  # type: ignore[union-attr]
        counts[table] = counts.get(table, 0) + result.rowcount
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}
        if table in protected():
            counts[table] += await _in_each_organization(engine, statement)
{%- endif %}
    return counts
{%- if cookiecutter.database == "postgresql" and cookiecutter.multi_tenancy == "yes" %}


async def _in_each_organization(engine: AsyncEngine, statement: Delete) -> int:
    """`statement` once in each organization: row-level security lets a transaction
    delete the rows of the one organization it is bound to, and of none without."""
    async with engine.connect() as connection:
        organizations = list(await connection.scalars(select(Organization.id)))
    deleted = 0
    for organization_id in organizations:
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config(:setting, :value, true)"),
                {"setting": SETTING, "value": str(organization_id)},
            )
            deleted += (await connection.execute(statement)).rowcount
    return deleted
{%- endif %}


def describe_counts(counts: dict[str, int]) -> str:
    # Count first: `refresh_tokens=0` reads as a secret to the logs' redaction (log.py).
    return ", ".join(f"{count} {table}" for table, count in counts.items())


async def purge_periodically(
    engine: AsyncEngine, settings: Settings, interval_seconds: float
) -> None:
    """A pass every `interval_seconds`, the first one interval after start, until cancelled.

    A failing pass (the database away for a moment) is logged, and the next one runs on
    time: nothing here stops the loop but cancellation.
    """
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            counts = await purge_expired(engine, settings)
        except Exception:
            logger.exception("purge of expired rows failed; the next pass runs as planned")
        else:
            logger.info("purged expired rows: %s", describe_counts(counts))


@asynccontextmanager
async def periodic_purge(
    engine: AsyncEngine, settings: Settings, *, interval_seconds: float
) -> AsyncIterator[None]:
    """Purge in the background while the block runs; not at all when the interval is 0."""
    if interval_seconds <= 0:
        yield
        return
    task = asyncio.create_task(
        purge_periodically(engine, settings, interval_seconds), name=TASK_NAME
    )
    try:
        yield
    finally:
        task.cancel()
        # Wait until it has stopped (a pass under way rolls back), without taking its
        # cancellation for this task's own.
        await asyncio.wait({task})
