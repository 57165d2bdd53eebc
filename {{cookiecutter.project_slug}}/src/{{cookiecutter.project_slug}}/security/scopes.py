"""Roles, and the one registry of OAuth2 scopes: what each means and which roles hold it.

A scope is defined once, here: the role mapping below, logins, the API-key schema and the
OpenAPI document read this table. A route then names it in `require("...")`
(access/dependencies.py), which raises UnknownScopeError at import for any name not
defined here, and the app refuses to start on a route declaring one some other way.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    GUEST = "guest"


@dataclass(frozen=True, slots=True)
class ScopeSpec:
    description: str
    # Admins hold every scope; these are the other roles that hold this one.
    roles: frozenset[Role]


def _scope(description: str, *roles: Role) -> ScopeSpec:
    return ScopeSpec(description, frozenset(roles))


SCOPES: dict[str, ScopeSpec] = {
    "users:read": _scope("Read your own profile.", Role.USER, Role.GUEST),
    "users:write": _scope("Change your own profile.", Role.USER),
    "items:read": _scope("Read items.", Role.USER, Role.GUEST),
    "items:write": _scope("Create, change and delete items.", Role.USER),
    "admin": _scope("Manage every user."),
}

SCOPE_DESCRIPTIONS: dict[str, str] = {name: spec.description for name, spec in SCOPES.items()}
ALL_SCOPES = frozenset(SCOPES)
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    role: ALL_SCOPES
    if role == Role.ADMIN
    else frozenset(name for name, spec in SCOPES.items() if role in spec.roles)
    for role in Role
}


def grant_scopes(role: Role, requested: frozenset[str]) -> frozenset[str]:
    """Scopes a new token gets: what was asked for that the role allows; all of them if none."""
    allowed = ROLE_SCOPES[role]
    return allowed if not requested else requested & allowed


def parse_scope(scope: str) -> frozenset[str]:
    return frozenset(scope.split())


def format_scope(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))
