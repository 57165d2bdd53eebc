"""The rate-limit dependencies routes declare.

Unauthenticated `/auth/*` endpoints count against RATE_LIMIT_LOGIN per client address;
every other API route against RATE_LIMIT_DEFAULT per caller: the user when the request
carries a valid token, else the address.
"""

import hashlib

from fastapi import Request

from ..state import ServicesDep
from .request_claims import access_claims
from .tokens import InvalidTokenError


def client_address(request: Request) -> str:
    # TrustedProxyMiddleware has already replaced a trusted proxy's address.
    return request.client.host if request.client else "unknown"


async def limit_unauthenticated(request: Request, services: ServicesDep) -> None:
    await services.limiter.hit(services.limiter.login, "auth-address", client_address(request))


async def limit_by_caller(request: Request, services: ServicesDep) -> None:
    await services.limiter.hit(services.limiter.default, "api", _caller_key(request, services))


def _caller_key(request: Request, services: ServicesDep) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            return "user:" + access_claims(request, services.tokens, token).subject
        except InvalidTokenError:
            pass
    api_key = request.headers.get("x-api-key")
    if api_key:
        # A digest, so that key material never becomes a storage key (Redis included).
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
    return "address:" + client_address(request)
