"""Redis as the state every worker shares: auth versions and rate-limit counters.

One connection pool serves both, and one more connection per process holds the
invalidation feed (redis_feed.py). A bump is a SET and a PUBLISH in one script, so
every process subscribed hears of it. While this process's feed is healthy, a cached
request reads the caller's version from memory and counts its RATE_LIMIT_DEFAULT hit
in a batch (redis_counts.py): it sends nothing to Redis. While the feed is down, each
request makes one round trip: a script that reads the caller's version and
counts the hit, in the counter `limits` keeps for it (same key, same expiry rule as
its fixed window), so the limiter's other calls see the same count.

A stopped Redis refuses connections at once, and a request then fails (auth, 503) or
degrades (limits) at once too. A Redis that hangs costs each call REDIS_TIMEOUT_SECONDS:
a cached request makes one (2 s), a request whose caller must be looked up two (the
lookup's reservation, then the version: 4 s); the feed stops vouching within
VOUCH_SECONDS, its probes unanswered.
"""

import asyncio
import time
import uuid

from limits.aio.storage import RedisStorage, Storage
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError

from .redis_counts import BatchedWindowCounts
from .redis_feed import INVALIDATION_CHANNEL, VOUCH_SECONDS, InvalidationFeed
from .security.principal_cache import AuthStateUnavailableError, new_version
from .security.rate_limit import WindowCount, WindowHit

# Not shorter: under a login flood the event loop itself may take half a second to read
# an answer Redis sent at once, and a timeout then would fail logged-in users with 503.
REDIS_TIMEOUT_SECONDS = 2.0
MAX_REDIS_CONNECTIONS = 128
# Versions of users not seen for a day are dropped; a new one is made when needed.
VERSION_TTL_SECONDS = 24 * 3600
# What each process's feed writes every heartbeat, to learn that Redis takes writes.
FEED_PROBE_KEY = "auth-feed-probe"
FEED_PROBE_TTL_MILLISECONDS = 5000
# Where `limits` keeps its counters; the auth script counts in the same place.
LIMITS_KEY_PREFIX = RedisStorage.PREFIX

# KEYS[1] the user's version; ARGV[1] a new version, for a user without one (new,
# expired, or Redis lost its data), ARGV[2] its TTL.
_GET_VERSION = """
local version = redis.call("get", KEYS[1])
if not version then
    version = ARGV[1]
    redis.call("set", KEYS[1], version, "ex", ARGV[2])
end
"""
GET_VERSION_SCRIPT = _GET_VERSION + "return version"
# And KEYS[2] a fixed window's counter, ARGV[3] the window's length: limits'
# incr_expire.lua for one hit. Returns the version, the hits, the seconds to the reset.
GET_VERSION_AND_COUNT_SCRIPT = (
    _GET_VERSION
    + """
local hits = redis.call("incr", KEYS[2])
if hits == 1 then
    redis.call("expire", KEYS[2], ARGV[3])
end
return {version, hits, redis.call("ttl", KEYS[2])}
"""
)


# KEYS[1] the user's version; ARGV[1] the new one, ARGV[2] its TTL, ARGV[3] the channel
# the feed listens on, ARGV[4] the user's id: every process then drops the old version.
BUMP_SCRIPT = """
redis.call("set", KEYS[1], ARGV[1], "ex", ARGV[2])
redis.call("publish", ARGV[3], ARGV[4])
"""


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
        # immediate retry on a new connection, so a restart costs no request a 503. Not
        # after a timeout: a hung Redis would cost twice REDIS_TIMEOUT_SECONDS.
        retry=Retry(NoBackoff(), retries=1, supported_errors=(ConnectionError,)),
        retry_on_error=[ConnectionError],
    )


def rate_limit_storage(url: str, pool: ConnectionPool) -> Storage:
    return RedisStorage(
        "async+" + url,
        implementation="redispy",
        key_prefix=LIMITS_KEY_PREFIX,
        wrap_exceptions=True,
        # limits passes the pool on to redis-py; its annotation only names scalar options.
        connection_pool=pool,  # type: ignore[arg-type]
    )


class RedisAuthVersions:
    def __init__(self, pool: ConnectionPool, url: str) -> None:
        self._pool = pool
        self._redis = Redis(connection_pool=pool)
        self.feed = InvalidationFeed(url, self._probe)
        self._counts = BatchedWindowCounts(self._redis, LIMITS_KEY_PREFIX)
        # Sent by digest (EVALSHA), and in full again when Redis forgot it (a restart).
        self._get_version = self._redis.register_script(GET_VERSION_SCRIPT)
        self._get_version_and_count = self._redis.register_script(GET_VERSION_AND_COUNT_SCRIPT)
        self._bump = self._redis.register_script(BUMP_SCRIPT)

    @staticmethod
    def _key(user_id: uuid.UUID) -> str:
        return f"auth-version:{user_id}"

    def _current(self, version: str) -> str:
        """`version` as this process hands it out: of the feed's generation, so that what
        was cached before the feed last went down matches nothing after."""
        return f"{version}.{self.feed.generation}"

    async def _probe(self) -> None:
        await self._redis.set(FEED_PROBE_KEY, "1", px=FEED_PROBE_TTL_MILLISECONDS)

    async def get(self, user_id: uuid.UUID) -> str:
        known = self.feed.version(user_id)
        if known is not None:
            return self._current(known)
        epoch = self.feed.epoch
        try:
            version = _text(
                await self._get_version(
                    keys=[self._key(user_id)], args=[new_version(), VERSION_TTL_SECONDS]
                )
            )
        except (RedisError, OSError) as exc:
            raise AuthStateUnavailableError(str(exc)) from exc
        self.feed.learn(user_id, version, epoch)
        return self._current(version)

    async def get_and_count(self, user_id: uuid.UUID, hit: WindowHit) -> tuple[str, WindowCount]:
        known = self.feed.version(user_id)
        if known is not None:
            return self._current(known), await self._counts.count(hit)
        epoch = self.feed.epoch
        counter = f"{LIMITS_KEY_PREFIX}:{hit.key}"
        try:
            version, hits, ttl = await self._get_version_and_count(
                keys=[self._key(user_id), counter],
                args=[new_version(), VERSION_TTL_SECONDS, hit.window_seconds],
            )
        except (RedisError, OSError) as exc:
            raise AuthStateUnavailableError(str(exc)) from exc
        self.feed.learn(user_id, _text(version), epoch)
        count = WindowCount(int(hits), time.time() + max(int(ttl), 0))
        return self._current(_text(version)), count

    async def bump(self, user_id: uuid.UUID) -> None:
        try:
            await self._bump(
                keys=[self._key(user_id)],
                args=[new_version(), VERSION_TTL_SECONDS, INVALIDATION_CHANNEL, str(user_id)],
            )
        except (RedisError, OSError) as exc:
            # Other processes may not hear of a change made meanwhile; this one trusts
            # nothing it holds until its feed is back. Nor will they: Redis refuses their
            # probes too, and once VOUCH_SECONDS have passed, no feed vouches for a
            # version; only then does the caller answer.
            self.feed.distrust()
            await asyncio.sleep(VOUCH_SECONDS)
            raise AuthStateUnavailableError(str(exc)) from exc
        # This process's own feed hears of it too; forgetting it here needs no wait.
        self.feed.forget(user_id)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def open(self) -> None:
        self.feed.start()

    async def close(self) -> None:
        await self.feed.stop()
        await self._pool.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
