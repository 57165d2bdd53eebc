"""What a request knows about its caller: an immutable copy of the user's row.

Principals are cached between requests, so they hold this snapshot rather than an ORM
object bound to one request's database session. `User.snapshot()` makes one.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from .scopes import {% if cookiecutter.multi_tenancy == "yes" %}OrganizationRole, {% endif %}Role


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime
{%- if cookiecutter.multi_tenancy == "yes" %}


@dataclass(frozen=True, slots=True)
class MembershipSnapshot:
    """The organization a credential is bound to, and the caller's role in it now."""

    organization_id: uuid.UUID
    role: OrganizationRole
{%- endif %}
