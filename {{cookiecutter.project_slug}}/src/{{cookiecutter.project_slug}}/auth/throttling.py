"""The per-address rate-limit dependencies of the endpoints that take no token.

Every other API route is protected, and `access.dependencies.authorize` counts it against
RATE_LIMIT_DEFAULT per caller.
"""

from ..access.rate_limit import RateLimit
from ..errors import answers
from ..security.rate_limit import Bucket
from ..services import ServicesDep

# RATE_LIMIT_LOGIN per client address, one budget for every endpoint that takes no token.
limit_unauthenticated = RateLimit(
    lambda limiter: limiter.login, per="address", bucket=Bucket.AUTH_ADDRESS
)

# RATE_LIMIT_REFRESH per client address: a refresh token is 256 random bits, nobody
# guesses one, so this only bounds the work one address can cause. It is looser than
# RATE_LIMIT_LOGIN, so that the users behind one office NAT can all stay logged in.
limit_refresh = RateLimit(
    lambda limiter: limiter.refresh, per="address", bucket=Bucket.REFRESH_ADDRESS
)


@answers(503)
async def shed_when_hashing_is_full(services: ServicesDep) -> None:
    """503 at once when the password-hash queue is full, before any other work: a flood
    of logins must not spend the rate-limit store's or the database's capacity either."""
    services.hasher.ensure_room()
