"""Where `authorize` looks credentials up: protocols the user and API-key stores fulfil.

The request path depends on these, not on the tables behind them: the stores are built
at start-up (factory.py) and handed over in `Services`.
"""

import uuid
from dataclasses import dataclass
from typing import Protocol

from .identity import {% if cookiecutter.multi_tenancy == "yes" %}MembershipSnapshot, {% endif %}UserSnapshot


@dataclass(frozen=True, slots=True)
class LiveSession:
    """An open login session and the user it belongs to."""

    user: UserSnapshot
    # When the session ends, as a POSIX timestamp: no cache may outlive it.
    expires_at: float
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The organization the session is bound to and the user's role there; None when
    # bound to none. A session bound to an organization the user left is not live.
    membership: MembershipSnapshot | None = None
{%- endif %}


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """A valid API key's user and the scopes the key was given."""

    user: UserSnapshot
    scopes: frozenset[str]
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The key's organization and the user's role there; a key of an organization the
    # user left is not valid.
    membership: MembershipSnapshot | None = None
{%- endif %}


class SessionStore(Protocol):
    async def find_live(self, user_id: uuid.UUID, session_id: uuid.UUID) -> LiveSession | None:
        """The session if it is the user's, not revoked and not expired."""
        ...


class ApiKeyStore(Protocol):
    async def find_valid(self, key: str) -> KeyGrant | None:
        """The key's grant if it exists, is not revoked and has not expired."""
        ...
