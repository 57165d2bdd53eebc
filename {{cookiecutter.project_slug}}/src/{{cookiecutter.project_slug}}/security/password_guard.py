"""Password checks that count against a rate limit before they run.

Counting first is what makes a limit hold for parallel requests: of N guesses sent at
once, at most the limit's worth reach the hash. A request the hash queue would shed is
refused before it is counted, so load shedding never spends anyone's budget.
"""

from .passwords import PasswordHasher
from .rate_limit import Bucket, RateLimiter


class PasswordGuard:
    def __init__(self, hasher: PasswordHasher, limiter: RateLimiter) -> None:
        self.hasher = hasher
        self.limiter = limiter

    async def check(
        self, bucket: Bucket, key: str, password: str, hashed: str | None
    ) -> tuple[bool, str | None]:
        """Count one attempt against RATE_LIMIT_LOGIN for `key`, then verify `password`.

        Returns (ok, a new hash to store when the old one is outdated); with `hashed`
        None a dummy hash is checked, so an unknown account costs the same time.
        """
        self.hasher.ensure_room()
        await self.limiter.hit(self.limiter.login, bucket, key)
        return await self.hasher.verify(password, hashed)
