"""RATE_LIMIT_DEFAULT on cached requests, counted per process and sent to Redis in batches.

The general per-caller budget is counted on every authenticated request, so one round
trip per count would be most of what a cached request costs. Here each process counts
a caller's hits in memory and sends them (INCRBY on the counter `limits` keeps for the
window, so its strategies see the same count) when:

- the window is new to this process: the first hit learns the count every worker made;
- a batch is waiting: `batch_size(limit)` hits Redis has not confirmed;
- the count this process knows is within a batch of the limit: from there on every hit
  is sent and judged on Redis's answer, so a process alone counts exactly.

The overshoot is bounded: a process admits at most `batch_size - 1` hits Redis has not
confirmed, and once it learns the count is within a batch of the limit it admits none
without Redis. So in one window, W workers let through at most W * (batch_size - 1)
requests beyond the limit: under 5% of the limit per worker, and never more than 99.
A limit below 40 per window has a batch of one: exact. Hits still waiting when their
window ends are not sent; they are part of that bound.
"""

import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .security.principal_cache import AuthStateUnavailableError
from .security.rate_limit import WindowCount, WindowHit

MAX_BATCH = 100
MAX_WINDOWS = 100_000
# KEYS[1] the window's counter; ARGV[1] the hits to add, ARGV[2] the window's length:
# limits' incr_expire.lua for several hits. Returns the hits, the seconds to the reset.
ADD_HITS_SCRIPT = """
local hits = redis.call("incrby", KEYS[1], ARGV[1])
if hits == tonumber(ARGV[1]) then
    redis.call("expire", KEYS[1], ARGV[2])
end
return {hits, redis.call("ttl", KEYS[1])}
"""


def batch_size(amount: int) -> int:
    """How many hits a process may count before Redis confirms them: 5% of the limit."""
    return max(1, min(MAX_BATCH, amount // 20))


@dataclass(slots=True)
class _Window:
    # The count Redis last answered, and when the window resets.
    confirmed: int
    reset_at: float
    # Hits admitted here and not sent yet; hits sent and not yet answered.
    pending: int = 0
    in_flight: int = 0


class BatchedWindowCounts:
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._key_prefix = key_prefix
        self._add_hits = redis.register_script(ADD_HITS_SCRIPT)
        self._windows: dict[str, _Window] = {}

    async def count(self, hit: WindowHit) -> WindowCount:
        """Count `hit`; the window's count as far as this process can tell."""
        now = time.time()
        window = self._windows.get(hit.key)
        if window is None or now >= window.reset_at:
            return await self._send(hit, None, 1)
        amount = hit.limit.amount
        if window.confirmed > amount:
            # Spent until the reset, whatever the other workers did meanwhile.
            return WindowCount(window.confirmed + 1, window.reset_at)
        unconfirmed = window.pending + window.in_flight + 1
        batch = batch_size(amount)
        if unconfirmed < batch and window.confirmed + unconfirmed + batch <= amount:
            window.pending += 1
            return WindowCount(window.confirmed + unconfirmed, window.reset_at)
        hits, window.pending = window.pending + 1, 0
        return await self._send(hit, window, hits)

    async def _send(self, hit: WindowHit, window: _Window | None, hits: int) -> WindowCount:
        if window is not None:
            window.in_flight += hits
        try:
            total, ttl = await self._add_hits(
                keys=[f"{self._key_prefix}:{hit.key}"], args=[hits, hit.window_seconds]
            )
        except (RedisError, OSError) as exc:
            raise AuthStateUnavailableError(str(exc)) from exc
        finally:
            if window is not None:
                window.in_flight -= hits
        count = WindowCount(int(total), time.time() + max(int(ttl), 0))
        current = self._windows.get(hit.key)
        if current is None or current.reset_at <= time.time():
            if len(self._windows) >= MAX_WINDOWS:
                self._drop_ended()
            self._windows[hit.key] = _Window(count.hits, count.reset_at)
        else:
            current.confirmed = max(current.confirmed, count.hits)
        return count

    def _drop_ended(self) -> None:
        now = time.time()
        for key in [key for key, window in self._windows.items() if window.reset_at <= now]:
            del self._windows[key]
        if len(self._windows) >= MAX_WINDOWS:
            # Hits still waiting in them are dropped, within the stated overshoot.
            self._windows.clear()
