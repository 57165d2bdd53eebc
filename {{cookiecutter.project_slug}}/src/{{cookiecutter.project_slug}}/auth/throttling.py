"""The per-address rate-limit dependencies of the endpoints that take no token.

Every other API route is protected, and `auth.dependencies.authorize` counts it against
RATE_LIMIT_DEFAULT per caller.
"""

from fastapi import Request

from ..errors import answers
from ..security.clients import client_address
from ..security.rate_limit import Bucket
from ..state import ServicesDep


@answers(429)
async def limit_unauthenticated(request: Request, services: ServicesDep) -> None:
    """RATE_LIMIT_LOGIN per client address."""
    limiter = services.limiter
    await limiter.hit(limiter.login, Bucket.AUTH_ADDRESS, client_address(request))


@answers(429)
async def limit_refresh(request: Request, services: ServicesDep) -> None:
    """RATE_LIMIT_REFRESH per client address: a refresh token is 256 random bits, nobody
    guesses one, so this only bounds the work one address can cause. It is looser than
    RATE_LIMIT_LOGIN, so that the users behind one office NAT can all stay logged in."""
    limiter = services.limiter
    await limiter.hit(limiter.refresh, Bucket.REFRESH_ADDRESS, client_address(request))


@answers(503)
async def shed_when_hashing_is_full(services: ServicesDep) -> None:
    """503 at once when the password-hash queue is full, before any other work: a flood
    of logins must not spend the shared store's or the database's capacity either."""
    services.hasher.ensure_room()
