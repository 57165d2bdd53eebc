"""The authenticated caller of a request, as every protected route receives it."""

import uuid
from dataclasses import dataclass

from ..security.identity import UserSnapshot


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a credential belongs to, before the request's policy is applied."""

    user: UserSnapshot
    # The credential's own scopes, not yet cut to the user's role.
    scopes: frozenset[str]
    # The login session of a bearer token or cookie; None for an API key.
    session_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    user: UserSnapshot
    # What the credential may do now: its scopes, cut to the user's current role.
    scopes: frozenset[str]
    # The login session of a bearer token; None when an API key authenticated the call.
    session_id: uuid.UUID | None

    @property
    def login_session_id(self) -> uuid.UUID:
        """The caller's login session: `authorize_bearer` admits only callers with one."""
        if self.session_id is None:
            raise LookupError("an API-key caller has no login session")
        return self.session_id
