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
{%- if cookiecutter.multi_tenancy == "yes" %}


class OrganizationRole(StrEnum):
    """A member's role in one organization, from the most to the least trusted."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


# A higher rank may do all a lower one may: invite to it, grant it.
ORGANIZATION_ROLE_RANK = {role: rank for rank, role in enumerate(reversed(OrganizationRole))}
{%- endif %}


@dataclass(frozen=True, slots=True)
class ScopeSpec:
    description: str
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The account roles that hold this scope; admins hold every scope that is not a
    # tenant's.
    roles: frozenset[Role] = frozenset()
    # A tenant scope is held only through a role in the organization a token is bound
    # to, never through the account's own role: a platform admin reads no tenant data.
    organization_roles: frozenset[OrganizationRole] = frozenset()


def _scope(description: str, *roles: Role) -> ScopeSpec:
    return ScopeSpec(description, roles=frozenset(roles))


def _tenant_scope(description: str, *roles: OrganizationRole) -> ScopeSpec:
    return ScopeSpec(description, organization_roles=frozenset(roles))
{%- else %}
    # Admins hold every scope; these are the other roles that hold this one.
    roles: frozenset[Role]


def _scope(description: str, *roles: Role) -> ScopeSpec:
    return ScopeSpec(description, frozenset(roles))
{%- endif %}


SCOPES: dict[str, ScopeSpec] = {
    "users:read": _scope("Read your own profile.", Role.USER, Role.GUEST),
    "users:write": _scope("Change your own profile.", Role.USER),
{%- if cookiecutter.multi_tenancy == "yes" %}
    "items:read": _tenant_scope(
        "Read the organization's items.",
        OrganizationRole.OWNER,
        OrganizationRole.ADMIN,
        OrganizationRole.MEMBER,
        OrganizationRole.VIEWER,
    ),
    "items:write": _tenant_scope(
        "Create items, and change your own (owners and admins: any).",
        OrganizationRole.OWNER,
        OrganizationRole.ADMIN,
        OrganizationRole.MEMBER,
    ),
    "members:read": _tenant_scope(
        "See the organization's members.",
        OrganizationRole.OWNER,
        OrganizationRole.ADMIN,
        OrganizationRole.MEMBER,
        OrganizationRole.VIEWER,
    ),
    "members:write": _tenant_scope(
        "Manage the organization's members, invitations and audit trail.",
        OrganizationRole.OWNER,
        OrganizationRole.ADMIN,
    ),
    "admin": _scope("Manage every user (no tenant's data)."),
{%- else %}
    "items:read": _scope("Read items.", Role.USER, Role.GUEST),
    "items:write": _scope("Create, change and delete items.", Role.USER),
    "admin": _scope("Manage every user."),
{%- endif %}
}

SCOPE_DESCRIPTIONS: dict[str, str] = {name: spec.description for name, spec in SCOPES.items()}
ALL_SCOPES = frozenset(SCOPES)
{%- if cookiecutter.multi_tenancy == "yes" %}
TENANT_SCOPES = frozenset(name for name, spec in SCOPES.items() if spec.organization_roles)
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    role: ALL_SCOPES - TENANT_SCOPES
    if role == Role.ADMIN
    else frozenset(name for name, spec in SCOPES.items() if role in spec.roles)
    for role in Role
}
ORGANIZATION_ROLE_SCOPES: dict[OrganizationRole, frozenset[str]] = {
    role: frozenset(name for name, spec in SCOPES.items() if role in spec.organization_roles)
    for role in OrganizationRole
}


def allowed_scopes(role: Role, organization_role: OrganizationRole | None) -> frozenset[str]:
    """What a caller may hold now: their account role's scopes, and their role's in the
    organization their credential is bound to (None: bound to none, or no longer a member)."""
    if organization_role is None:
        return ROLE_SCOPES[role]
    return ROLE_SCOPES[role] | ORGANIZATION_ROLE_SCOPES[organization_role]


def grant_scopes(role: Role, requested: frozenset[str]) -> frozenset[str]:
    """Scopes a login session may carry: what was asked for (all, if nothing) that the
    role allows, and the tenant scopes asked for. Each of its tokens gets these as far as
    `allowed_scopes` allows in the organization it is bound to, then and at every request."""
    allowed = ROLE_SCOPES[role] | TENANT_SCOPES
    return allowed if not requested else requested & allowed
{%- else %}
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
{%- endif %}


def parse_scope(scope: str) -> frozenset[str]:
    return frozenset(scope.split())


def format_scope(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))
