"""The authenticated caller of a request, as every protected route receives it."""

import uuid
from dataclasses import dataclass

from ..security.identity import {% if cookiecutter.multi_tenancy == "yes" %}MembershipSnapshot, {% endif %}UserSnapshot


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a credential belongs to, before the request's policy is applied."""

    user: UserSnapshot
    # The credential's own scopes, not yet cut to the user's role.
    scopes: frozenset[str]
    # The login session of a bearer token or cookie; None for an API key.
    session_id: uuid.UUID | None
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The organization the credential is bound to, and the user's role there now.
    membership: MembershipSnapshot | None
{%- endif %}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    user: UserSnapshot
    # What the credential may do now: its scopes, cut to the user's current role.
    scopes: frozenset[str]
    # The login session of a bearer token; None when an API key authenticated the call.
    session_id: uuid.UUID | None
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The organization the credential is bound to, and the caller's role there now;
    # None when it is bound to none. The only source of the caller's organization.
    membership: MembershipSnapshot | None
{%- endif %}

    @property
    def login_session_id(self) -> uuid.UUID:
        """The caller's login session: `authorize_bearer` admits only callers with one."""
        if self.session_id is None:
            raise LookupError("an API-key caller has no login session")
        return self.session_id
{%- if cookiecutter.multi_tenancy == "yes" %}

    @property
    def organization_id(self) -> uuid.UUID:
        """The caller's bound organization: routes that need one require a tenant scope,
        which only a bound credential holds."""
        if self.membership is None:
            raise LookupError("the caller's credential is bound to no organization")
        return self.membership.organization_id
{%- endif %}
