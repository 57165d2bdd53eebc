"""The rate-limit dependencies routes declare.

Unauthenticated `/auth/*` endpoints count against RATE_LIMIT_LOGIN per client address.
Every other API route is protected, and `auth.dependencies.authorize` counts it against
RATE_LIMIT_DEFAULT per caller (`caller_key`).
"""

from fastapi import Request

from ..state import ServicesDep
from .request_claims import access_claims
from .tokens import InvalidTokenError, TokenCodec


def client_address(request: Request) -> str:
    # TrustedProxyMiddleware has already replaced a trusted proxy's address.
    return request.client.host if request.client else "unknown"


async def limit_unauthenticated(request: Request, services: ServicesDep) -> None:
    await services.limiter.hit(services.limiter.login, "auth-address", client_address(request))


def caller_key(request: Request, tokens: TokenCodec, token: str | None) -> str:
    """Who RATE_LIMIT_DEFAULT counts a request against before it is authenticated: the
    user of a valid token, else the client address."""
    if token is not None:
        try:
            return "user:" + access_claims(request, tokens, token).subject
        except InvalidTokenError:
            pass
    return "address:" + client_address(request)
