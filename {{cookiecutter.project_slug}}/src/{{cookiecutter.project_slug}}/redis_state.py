"""Redis as the state every worker shares: auth versions and rate-limit counters.

One connection pool serves both. A stopped Redis refuses connections at once, and a
request then fails (auth, 503) or degrades (limits) at once too; a Redis that hangs
costs a request at most REDIS_TIMEOUT_SECONDS.
"""

import uuid

from limits.aio.storage import RedisStorage, Storage
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError

from .security.principal_cache import AuthStateUnavailableError, new_version

# Not shorter: under a login flood the event loop itself may take half a second to read
# an answer Redis sent at once, and a timeout then would fail logged-in users with 503.
REDIS_TIMEOUT_SECONDS = 2.0
MAX_REDIS_CONNECTIONS = 128
# Versions of users not seen for a day are dropped; a new one is made when needed.
VERSION_TTL_SECONDS = 24 * 3600


def create_pool(url: str) -> ConnectionPool:
    # A bounded pool: a burst must not open hundreds of connections at once (each
    # connect can then time out), yet be large enough that a burst waiting for a free
    # connection is not mistaken for an outage.
    return BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_REDIS_CONNECTIONS,
        timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        # A pooled connection that Redis closed (a restart) fails on first use: one
        # immediate retry on a new connection, so a restart costs no request a 503.
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[ConnectionError],
    )


def rate_limit_storage(url: str, pool: ConnectionPool) -> Storage:
    return RedisStorage(
        "async+" + url,
        implementation="redispy",
        wrap_exceptions=True,
        # limits passes the pool on to redis-py; its annotation only names scalar options.
        connection_pool=pool,  # type: ignore[arg-type]
    )


class RedisAuthVersions:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._redis = Redis(connection_pool=pool)

    @staticmethod
    def _key(user_id: uuid.UUID) -> str:
        return f"auth-version:{user_id}"

    async def get(self, user_id: uuid.UUID) -> str:
        key = self._key(user_id)
        try:
            value = await self._redis.get(key)
            if value is None:
                # Unknown (new user, expired, or Redis lost its data): start a new version,
                # unless another worker just did.
                await self._redis.set(key, new_version(), nx=True, ex=VERSION_TTL_SECONDS)
                value = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            raise AuthStateUnavailableError(str(exc)) from exc
        return value.decode() if isinstance(value, bytes) else str(value)

    async def bump(self, user_id: uuid.UUID) -> None:
        try:
            await self._redis.set(self._key(user_id), new_version(), ex=VERSION_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            raise AuthStateUnavailableError(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._pool.aclose()
