"""Roles and the OAuth2 scopes each one may hold."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    GUEST = "guest"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    "users:read": "Read your own profile.",
    "users:write": "Change your own profile.",
    "items:read": "Read items.",
    "items:write": "Create, change and delete items.",
    "admin": "Manage every user.",
}
ALL_SCOPES = frozenset(SCOPE_DESCRIPTIONS)

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.ADMIN: ALL_SCOPES,
    Role.USER: frozenset({"users:read", "users:write", "items:read", "items:write"}),
    Role.GUEST: frozenset({"users:read", "items:read"}),
}


def grant_scopes(role: Role, requested: frozenset[str]) -> frozenset[str]:
    """Scopes a new token gets: what was asked for that the role allows; all of them if none."""
    allowed = ROLE_SCOPES[role]
    return allowed if not requested else requested & allowed


def parse_scope(scope: str) -> frozenset[str]:
    return frozenset(scope.split())


def format_scope(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))
