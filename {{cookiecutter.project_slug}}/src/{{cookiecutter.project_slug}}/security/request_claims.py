"""Decode a request's bearer token once, however many dependencies look at it."""

from fastapi import Request

from .tokens import AccessClaims, TokenCodec


def access_claims(request: Request, codec: TokenCodec, token: str) -> AccessClaims:
    """The token's verified claims; InvalidTokenError if it cannot be trusted."""
    cached: tuple[str, AccessClaims] | None = getattr(request.state, "access_claims", None)
    if cached is not None and cached[0] == token:
        return cached[1]
    claims = codec.decode_access_token(token)
    request.state.access_claims = (token, claims)
    return claims
