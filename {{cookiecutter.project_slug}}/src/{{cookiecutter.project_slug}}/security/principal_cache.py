"""Callers seen recently, so most requests need no database query to authenticate.

An entry is trusted only while the user's *auth version* is the one it was loaded
under. Everything that changes what a user may do (role, active state, the profile
/users/me shows, a revoked login session{% if cookiecutter.multi_tenancy == "yes" %}, a membership or a role in an
organization{% endif %}) commits through `commit_change`, which bumps
the version before and after the commit, so the next request anywhere reloads from the
database. Loads read the version *before* the database, so a change that lands during a
load is caught on the following request.
{% if cookiecutter.use_redis == "yes" %}
Versions live in an `AuthVersions` store: this process's memory (exact for one
process), or a store every worker shares (factory.create_shared_state). If a shared
store cannot be reached, authentication fails closed (503) instead of trusting an
entry, a change is refused before it is committed, and the local entries are dropped,
since bumps may have been missed meanwhile.

With Redis, each process keeps the versions it read in memory, kept current by an
invalidation feed (redis_feed.py): a bump publishes the user's id, and every process
subscribed drops its copy, before any request that reaches it later is served. While
the feed is healthy a cache hit reads the version from memory and counts the request
against the caller's RATE_LIMIT_DEFAULT budget in a batch (redis_counts.py), so it
sends nothing to Redis. While the feed is down, reconnecting or not yet subscribed,
nothing held in memory is trusted: every request reads the version from Redis and
counts exactly, in one round trip (`get_and_count`), so that a change still counts on
every worker from the very next request.
{%- else %}
Versions live in this process's memory (`LocalAuthVersions`), exact for one process. A
cache hit reads the version and counts the request against the caller's
RATE_LIMIT_DEFAULT budget in one step (`get_and_count`).
{%- endif %}
"""

import time
import uuid
from collections import OrderedDict
{%- if cookiecutter.use_redis == "yes" %}
from contextlib import suppress
{%- endif %}
from dataclasses import dataclass
from typing import Protocol

from limits.aio.storage import Storage
from sqlalchemy.ext.asyncio import AsyncSession

from .identity import {% if cookiecutter.multi_tenancy == "yes" %}MembershipSnapshot, {% endif %}UserSnapshot
from .rate_limit import WindowCount, WindowHit

CACHE_SECONDS = 30.0
MAX_ENTRIES = 10_000

{%- if cookiecutter.use_redis == "yes" %}


class AuthStateUnavailableError(Exception):
    """The shared auth-version store did not answer; nobody can be authenticated."""
{%- endif %}


def new_version() -> str:
    """A version never seen before, even after the store lost its data: a reset cannot
    bring back an old version that a cached entry would match."""
    return uuid.uuid4().hex


class AuthVersions(Protocol):
    async def get(self, user_id: uuid.UUID) -> str: ...

    async def get_and_count(self, user_id: uuid.UUID, hit: WindowHit) -> tuple[str, WindowCount]:
        """`get`, and `hit` counted in the store of the rate limits, at once."""
        ...

    async def bump(self, user_id: uuid.UUID) -> None: ...
{%- if cookiecutter.use_redis == "yes" %}

    async def ping(self) -> bool: ...

    async def open(self) -> None:
        """Start what keeps the store current in this process (redis_feed.py)."""
        ...
{%- endif %}

    async def close(self) -> None: ...


class LocalAuthVersions:
    def __init__(self, limit_storage: Storage) -> None:
        self._versions: dict[uuid.UUID, str] = {}
        # The rate limiter's own store: both count in the same windows.
        self._limit_storage = limit_storage

    async def get(self, user_id: uuid.UUID) -> str:
        version = self._versions.get(user_id)
        if version is None:
            version = self._versions[user_id] = new_version()
        return version

    async def get_and_count(self, user_id: uuid.UUID, hit: WindowHit) -> tuple[str, WindowCount]:
        hits = await self._limit_storage.incr(hit.key, hit.window_seconds)
        reset_at = await self._limit_storage.get_expiry(hit.key)
        return await self.get(user_id), WindowCount(hits, reset_at)

    async def bump(self, user_id: uuid.UUID) -> None:
        self._versions[user_id] = new_version()

{%- if cookiecutter.use_redis == "yes" %}

    async def ping(self) -> bool:
        return True

    async def open(self) -> None:
        """Nothing to start: this process's memory is always current."""
{%- endif %}

    async def close(self) -> None:
        self._versions.clear()


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    user: UserSnapshot
    version: str
    # The earlier of the login session's expiry and the end of the cache period.
    valid_until: float
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The session's organization and the user's role there, as loaded with the user.
    membership: MembershipSnapshot | None
{%- endif %}


class PrincipalCache:
    def __init__(self, versions: AuthVersions) -> None:
        self.versions = versions
        self._entries: OrderedDict[uuid.UUID, CachedPrincipal] = OrderedDict()

    async def get(
        self, session_id: uuid.UUID, user_id: uuid.UUID, counting: WindowHit
    ) -> tuple[CachedPrincipal | None, WindowCount | None]:
        """The cached caller of `session_id` if nothing about them changed, and the count
        `counting` reached: counted whenever the version had to be read (an entry
        within its time), whether or not the entry turned out current."""
        entry = self._entries.get(session_id)
        if entry is None or entry.user.id != user_id:
            return None, None
        if time.time() >= entry.valid_until:
            self._entries.pop(session_id, None)
            return None, None
{%- if cookiecutter.use_redis == "yes" %}
        try:
            version, count = await self.versions.get_and_count(user_id, counting)
        except AuthStateUnavailableError:
            self._entries.clear()
            raise
{%- else %}
        version, count = await self.versions.get_and_count(user_id, counting)
{%- endif %}
        if version != entry.version:
            self._entries.pop(session_id, None)
            return None, count
        return entry, count

    def put(
        self,
        session_id: uuid.UUID,
        user: UserSnapshot,
        *,
        version: str,
        session_expires_at: float,
{%- if cookiecutter.multi_tenancy == "yes" %}
        membership: MembershipSnapshot | None,
{%- endif %}
    ) -> None:
        valid_until = min(time.time() + CACHE_SECONDS, session_expires_at)
{%- if cookiecutter.multi_tenancy == "yes" %}
        self._entries[session_id] = CachedPrincipal(user, version, valid_until, membership)
{%- else %}
        self._entries[session_id] = CachedPrincipal(user, version, valid_until)
{%- endif %}
        if len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    async def commit_change(self, db: AsyncSession, user_id: uuid.UUID) -> None:
        """Commit a change to what `user_id` may do, and make every cache forget them."""
{%- if cookiecutter.use_redis == "yes" %}
        # Before: with the shared state unreachable, the change is not made at all.
{%- else %}
        # Before: a request that loads the user while the commit is under way is not kept.
{%- endif %}
        await self.versions.bump(user_id)
        await db.commit()
        # After: drops entries loaded while the commit was under way.
        await self.versions.bump(user_id)

    async def forget_user(self, user_id: uuid.UUID) -> None:
{%- if cookiecutter.use_redis == "yes" %}
        """After a change that is already committed (and must be, whatever the shared
        store does): make every cache forget the user, as far as the store answers.
        While it does not, no cache is trusted anyway."""
        with suppress(AuthStateUnavailableError):
            await self.versions.bump(user_id)
{%- else %}
        """After a change that is already committed: make the cache forget the user."""
        await self.versions.bump(user_id)
{%- endif %}
