"""Who is calling: the one dependency every protected route declares, built by `require`.

    @router.get("/reports")
    async def list_reports(principal: Annotated[Principal, require("reports:read")]) -> ...

`require(*scopes)` admits a bearer token, an `X-API-Key` or the session cookie holding
every scope named; `require(..., api_key=False)` no API key (what an API key must not
do: log out, change the password, manage keys, close the account). A scope missing from
the registry (security/scopes.py) raises `UnknownScopeError` where the route is declared,
so a misspelt scope stops the app from importing instead of refusing every caller.

The work is split by concern: where a credential travels (access/transports.py), how it
is checked (access/strategies.py) and what the request must then satisfy
(access/policy.py). They are called here as plain functions, not as dependencies of
their own: each dependency FastAPI resolves costs about as much as the rest of a cached
request.
"""

from typing import Annotated, Any

from fastapi import HTTPException, Request, Security, status
from fastapi.security import SecurityScopes

from ..errors import answers
from ..security.scopes import ALL_SCOPES
from ..services import Services
from .policy import admit
from .principal import Identity
from .principal import Principal as Principal
from .strategies import AddressBudget, api_key_identity, bearer_identity
from .transports import api_key_header, bearer_header, session_cookie

# What authentication answers: 401 no or bad credential, or a session cookie sent twice;
# 403 a missing scope, an inactive user, a failed CSRF check or a cross-site cookie
# request; 429 RATE_LIMIT_DEFAULT.
{%- if cookiecutter.use_redis == "yes" %}
# 503: the shared auth state is down.
AUTHENTICATION_ERRORS = (401, 403, 429, 503)
{%- else %}
AUTHENTICATION_ERRORS = (401, 403, 429)
{%- endif %}


class UnknownScopeError(ValueError):
    """A route requires a scope the registry (security/scopes.py) does not define."""


def _unauthorized(security_scopes: SecurityScopes) -> HTTPException:
    challenge = "Bearer"
    if security_scopes.scopes:
        challenge = f'Bearer scope="{security_scopes.scope_str}"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": challenge},
    )


async def _identify(
    request: Request, services: Services, security_scopes: SecurityScopes, *, accept_api_key: bool
) -> Identity:
    """Who the credential belongs to: a bearer header, else an API key, else the cookie."""
    address = AddressBudget(request, services)
    token = bearer_header(request)
    api_key = api_key_header(request)
    if token is None and api_key is None:
        token = session_cookie(request, services.cookies)
    identity = None
    if token is not None:
        identity = await bearer_identity(request, token, services, address)
    elif api_key is not None and accept_api_key:
        identity = await api_key_identity(api_key, services, address)
    if identity is not None:
        return identity
    await address.charge_failure()
    if token is None and api_key is not None and not accept_api_key:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="This endpoint needs a bearer token, not an API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise _unauthorized(security_scopes)


@answers(*AUTHENTICATION_ERRORS)
async def authorize(request: Request, security_scopes: SecurityScopes) -> Principal:
    """The caller, by bearer token, `X-API-Key` or session cookie, holding every scope the
    route requires (declared with `require`). It reads its headers itself and counts the
    request against RATE_LIMIT_DEFAULT too. The OpenAPI document learns of the two
    schemes from openapi.py."""
    services: Services = request.app.state.services
    identity = await _identify(request, services, security_scopes, accept_api_key=True)
    return await admit(request, services, identity, security_scopes)


@answers(*AUTHENTICATION_ERRORS)
async def authorize_bearer(request: Request, security_scopes: SecurityScopes) -> Principal:
    """`authorize` for a bearer token or session cookie only, never an API key."""
    services: Services = request.app.state.services
    identity = await _identify(request, services, security_scopes, accept_api_key=False)
    return await admit(request, services, identity, security_scopes)


def check_scopes(scopes: list[str] | tuple[str, ...], where: str) -> None:
    """UnknownScopeError naming every scope of `scopes` the registry does not define."""
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown:
        raise UnknownScopeError(
            f"{where} requires unknown scope {', '.join(map(repr, unknown))}; "
            f"the scopes in security/scopes.py are {', '.join(sorted(ALL_SCOPES))}"
        )


def require(*scopes: str, api_key: bool = True) -> Any:
    """The dependency of a route whose caller must hold every scope in `scopes`.

    Use it as `Annotated[Principal, require(...)]`. `api_key=False` refuses API keys.
    A scope the registry does not define raises UnknownScopeError here, at import.
    """
    check_scopes(scopes, f"require({', '.join(map(repr, scopes))})")
    return Security(authorize if api_key else authorize_bearer, scopes=list(scopes))


# What the app's routes declare about their caller, each derived from `require`.
BearerPrincipal = Annotated[Principal, require(api_key=False)]
UsersReader = Annotated[Principal, require("users:read")]
UsersWriter = Annotated[Principal, require("users:write")]
# The account's own credentials and its very existence: a user's login sessions, like
# their API keys, are not for an API key to see or end, nor is closing the account.
AccountReader = Annotated[Principal, require("users:read", api_key=False)]
AccountWriter = Annotated[Principal, require("users:write", api_key=False)]
Admin = Annotated[Principal, require("admin")]
# An admin acting on another account's security: a person, so never an API key.
AccountAdmin = Annotated[Principal, require("admin", api_key=False)]
