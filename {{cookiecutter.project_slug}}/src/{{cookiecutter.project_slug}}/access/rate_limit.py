"""A rate limit on one route, in one line, in slowapi's syntax.

    @router.post("/exports", dependencies=[Depends(RateLimit("10/minute", per="address"))])

    async def create_report(
        principal: UsersWriter, _: Annotated[None, Depends(RateLimit("10/minute"))]
    ) -> ...

The limit is counted by the app's limiter (security/rate_limit.py), in the same store as
every other limit (shared by all workers when the store is), and answered as they are:
429 with `Retry-After`. Each route has a budget of its own unless `bucket` names one to
share. Per caller, the budget belongs to the authenticated user, so it must come after
the route's principal: FastAPI resolves a route's `dependencies=[...]` before its
parameters, so there a per-caller limit would only ever see the client address. It
refuses to run so (a 500 and a log line naming the route, on its first request).
"""

from collections.abc import Callable
from typing import Literal

from fastapi import Request
from fastapi.routing import APIRoute
from limits import RateLimitItem

from ..errors import answers
from ..security.clients import client_address
from ..security.rate_limit import RateLimiter, parse_limit
from ..services import Services
from .dependencies import authorize, authorize_bearer

# Picks one of the limits the limiter parsed from the settings, such as `limiter.login`.
ConfiguredLimit = Callable[[RateLimiter], RateLimitItem]


class RateLimit:
    """A dependency that counts each request against `limit` and refuses it once spent.

    `limit` is a limit string (`"10/minute"`, `"100 per hour"`) or a function choosing
    one the settings configure. `per="caller"` counts per authenticated user (per client
    address for anonymous callers); `per="address"` per client address always.
    """

    def __init__(
        self,
        limit: str | ConfiguredLimit,
        *,
        per: Literal["caller", "address"] = "caller",
        bucket: str | None = None,
    ) -> None:
        if isinstance(limit, str):
            # A malformed limit fails at import time, not on the first request.
            fixed = parse_limit(limit)
            self._limit: ConfiguredLimit = lambda _limiter: fixed
        else:
            self._limit = limit
        self._per = per
        self._bucket = bucket
        # The OpenAPI document declares the 429 on every route that counts against it.
        answers(429)(self)

    async def __call__(self, request: Request) -> None:
        services: Services = request.app.state.services
        limiter = services.limiter
        bucket = self._bucket or _route_bucket(request)
        await limiter.hit(self._limit(limiter), bucket, self._caller(request))

    def _caller(self, request: Request) -> str:
        if self._per == "address":
            return client_address(request)
        # `authorize` notes the authenticated user on the request (the access log's user id).
        user_id: str | None = getattr(request.state, "user_id", None)
        if user_id is not None:
            return f"user:{user_id}"
        route = request.scope.get("route")
        if isinstance(route, APIRoute) and _authorizes(route):
            raise RuntimeError(
                f"RateLimit(per='caller') on {request.method} {route.path} runs before the "
                "route's principal, so it would count per address: declare it after the "
                "principal, as a parameter"
            )
        return client_address(request)


def _authorizes(route: APIRoute) -> bool:
    """Whether the route declares a principal (any dependency on `authorize*`)."""
    return any(
        dependency.call in (authorize, authorize_bearer)
        for dependency in route.dependant.dependencies
    )


def _route_bucket(request: Request) -> str:
    """The budget of the route that matched: one per method and path template."""
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    return f"route:{request.method}:{path}"
