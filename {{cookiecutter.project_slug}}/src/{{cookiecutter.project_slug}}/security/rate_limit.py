"""Request rate limits in slowapi's limit syntax (`5/minute`), on the `limits` engine.

slowapi's decorators bind one limiter per process at import time and make synchronous
storage calls, which block the event loop on every request once Redis is the store.
The same engine, used here through its asyncio API, gives each app its own limiter
from its settings and never blocks. Limits are moving windows: no double burst at a
window edge.
"""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class RateLimitedError(Exception):
    def __init__(self, retry_after: int, limit: RateLimitItem) -> None:
        super().__init__(f"rate limit {limit} exceeded")
        self.retry_after = retry_after
        self.limit = limit


def parse_limit(value: str) -> RateLimitItem:
    """The limit `value` describes; ValueError naming the problem if it is malformed."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate limit such as '5/minute'") from exc


class RateLimiter:
    def __init__(self, storage_uri: str, *, login: str, default: str) -> None:
        self.login = parse_limit(login)
        self.default = parse_limit(default)
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_uri!r} is not an asyncio storage (async+...)")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Count one request against `limit`; raise RateLimitedError once it is spent."""
        if not await self._strategy.hit(limit, *identifiers):
            await self._refuse(limit, identifiers)

    async def check(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Raise RateLimitedError if `limit` is spent, without counting this request."""
        if not await self._strategy.test(limit, *identifiers):
            await self._refuse(limit, identifiers)

    async def count(self, limit: RateLimitItem, *identifiers: str) -> bool:
        """Count one event; False once there were more than `limit` allows."""
        return await self._strategy.hit(limit, *identifiers)

    async def _refuse(self, limit: RateLimitItem, identifiers: tuple[str, ...]) -> None:
        stats = await self._strategy.get_window_stats(limit, *identifiers)
        raise RateLimitedError(max(1, math.ceil(stats.reset_time - time.time())), limit)

    async def reset(self) -> None:
        await self._storage.reset()
