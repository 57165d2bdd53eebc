"""Request rate limits in slowapi's limit syntax (`5/minute`), on the `limits` engine.

slowapi's decorators bind one limiter per process at import time, and make synchronous
storage calls, which would block the event loop on every request with a networked
store. The same engine, used here through its asyncio API, gives each app its own
limiter from its settings and never blocks. Login limits are moving windows (exact: no
double burst at a window edge); RATE_LIMIT_DEFAULT, counted on every API request, is a
fixed window, which costs one counter per key instead of one entry per hit.
{% if cookiecutter.use_redis == "yes" %}
With a store that all workers share, they share one budget. If that store stops
answering, the limits fall back to this process's memory (logged once) and go back to
the shared store once it answers again: limits degrade, they never switch off.
{%- else %}
The counters live in this process's memory: each process counts its own budget.
{%- endif %}

The hit of an authenticated request on RATE_LIMIT_DEFAULT is the one count made on
every request. It is made by the auth-version store instead, with the read of the
caller's version (principal_cache.AuthVersions.get_and_count): `window_hit` names the
counter as `limits` does, so its strategies see the same count, and `enforce` judges it
as FixedWindowRateLimiter.hit would.
{%- if cookiecutter.use_redis == "yes" %} With Redis, that one count may be batched per
process (redis_counts.py, with its stated overshoot); every other limit is exact.
{%- endif %}
"""
{% if cookiecutter.use_redis == "yes" %}
import logging
{%- endif %}
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from limits import RateLimitItem, parse
{%- if cookiecutter.use_redis == "yes" %}
from limits.aio.storage import MemoryStorage, Storage
{%- else %}
from limits.aio.storage import Storage
{%- endif %}
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as Strategy,
)
{%- if cookiecutter.use_redis == "yes" %}
from limits.errors import StorageError

logger = logging.getLogger(__name__)
T = TypeVar("T")
# While the shared store is down, try it again this often.
RETRY_SECONDS = 5.0
{%- else %}

T = TypeVar("T")
{%- endif %}


class Bucket(StrEnum):
    """Every budget the app counts, each under its own key space in the store."""

    # RATE_LIMIT_LOGIN, per client address, on every /auth endpoint that takes no token.
    AUTH_ADDRESS = "auth-address"
    # RATE_LIMIT_REFRESH, per client address, on the refresh endpoints.
    REFRESH_ADDRESS = "refresh-address"
    # RATE_LIMIT_LOGIN, per account, on password checks at login (every attempt counts).
    LOGIN_ACCOUNT = "login-account"
    # RATE_LIMIT_LOGIN, per user, on `current_password` checks (re-authentication).
    REAUTH = "reauth"
    # RATE_LIMIT_LOGIN, per recipient address, on verification and reset link mails.
    MAIL_TO = "mail-to"
    # RATE_LIMIT_LOGIN, per recipient address, on "API key added" notices: a count of
    # their own, so that repeating them crowds out no other mail.
    MAIL_KEY_NOTICES = "mail-key-notices"
    # RATE_LIMIT_LOGIN, per client address, on wrong docs passwords.
    DOCS_AUTH = "docs-auth"
    # RATE_LIMIT_DEFAULT, per authenticated user or per client address, on API routes.
    API = "api"
    # Not a limit: how many admin-route denials from one address raise an alert.
    ADMIN_DENIALS = "admin-denials"
    # Not a limit: how many rows an event anyone can repeat may add to the audit trail.
    AUDIT_ROWS = "audit-rows"


class RateLimitedError(Exception):
    def __init__(self, retry_after: int, limit: RateLimitItem) -> None:
        super().__init__(f"rate limit {limit} exceeded")
        self.retry_after = retry_after
        self.limit = limit


@dataclass(frozen=True, slots=True)
class WindowCount:
    """A fixed window's counter just after a hit: the hits it holds, when it resets."""

    hits: int
    reset_at: float


@dataclass(frozen=True, slots=True)
class WindowHit:
    """One request to count against `limit`, in the fixed window stored under `key`."""

    limit: RateLimitItem
    key: str

    @property
    def window_seconds(self) -> int:
        return self.limit.get_expiry()


def parse_limit(value: str) -> RateLimitItem:
    """The limit `value` describes; ValueError naming the problem if it is malformed."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate limit such as '5/minute'") from exc


class RateLimiter:
    def __init__(self, storage: Storage, *, login: str, refresh: str, default: str) -> None:
        self.login = parse_limit(login)
        self.refresh = parse_limit(refresh)
        self.default = parse_limit(default)
{%- if cookiecutter.use_redis == "yes" %}
        local = MemoryStorage()
        self._shared = {
            "exact": MovingWindowRateLimiter(storage),
            "fast": FixedWindowRateLimiter(storage),
        }
        self._local = {
            "exact": MovingWindowRateLimiter(local),
            "fast": FixedWindowRateLimiter(local),
        }
        self._shared_down_until: float | None = None

    async def _run(self, limit: RateLimitItem, call: Callable[[Strategy], Awaitable[T]]) -> T:
        kind = "fast" if limit is self.default else "exact"
        now = time.monotonic()
        if self._shared_down_until is None or now >= self._shared_down_until:
            try:
                result = await call(self._shared[kind])
            except StorageError as exc:
                if self._shared_down_until is None:
                    logger.warning("rate limit store unreachable, limiting per process: %s", exc)
                self._shared_down_until = now + RETRY_SECONDS
            else:
                if self._shared_down_until is not None:
                    logger.warning("rate limit store reachable again")
                    self._shared_down_until = None
                return result
        return await call(self._local[kind])
{%- else %}
        self._strategies = {
            "exact": MovingWindowRateLimiter(storage),
            "fast": FixedWindowRateLimiter(storage),
        }

    async def _run(self, limit: RateLimitItem, call: Callable[[Strategy], Awaitable[T]]) -> T:
        return await call(self._strategies["fast" if limit is self.default else "exact"])
{%- endif %}

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Count one request against `limit`; raise RateLimitedError once it is spent.

        Counting comes first, and one request's count is atomic in every store: of N
        requests arriving at once, no more than the limit's worth get through.
        """
        if not await self._run(limit, lambda strategy: strategy.hit(limit, *identifiers)):
            await self._refuse(limit, identifiers)

    async def check(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Raise RateLimitedError if `limit` is spent, without counting this request."""
        if not await self._run(limit, lambda strategy: strategy.test(limit, *identifiers)):
            await self._refuse(limit, identifiers)

    async def refund(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Give back one request `hit` counted: a reservation that turned out not to be
        the payer's (access/strategies.py). Only for `self.default`, a fixed window, whose
        count is one number; a moving window's entries cannot be taken back."""
        if limit is not self.default:
            raise ValueError("only RATE_LIMIT_DEFAULT counts can be refunded")
        await self._run(limit, lambda strategy: strategy.hit(limit, *identifiers, cost=-1))

    async def count(self, limit: RateLimitItem, *identifiers: str) -> bool:
        """Count one event; False once there were more than `limit` allows."""
        return await self._run(limit, lambda strategy: strategy.hit(limit, *identifiers))

    def window_hit(self, limit: RateLimitItem, *identifiers: str) -> WindowHit:
        """A hit on the fixed window `limit`, under the key FixedWindowRateLimiter uses."""
        return WindowHit(limit, limit.key_for(*identifiers))

    @staticmethod
    def enforce(hit: WindowHit, count: WindowCount) -> None:
        """Raise RateLimitedError if `count`, taken by `hit`, went past the limit."""
        if count.hits > hit.limit.amount:
            retry_after = max(1, math.ceil(count.reset_at - time.time()))
            raise RateLimitedError(retry_after, hit.limit)

    async def _refuse(self, limit: RateLimitItem, identifiers: tuple[str, ...]) -> None:
        stats = await self._run(
            limit, lambda strategy: strategy.get_window_stats(limit, *identifiers)
        )
        raise RateLimitedError(max(1, math.ceil(stats.reset_time - time.time())), limit)
