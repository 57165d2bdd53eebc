"""What a request knows about its caller: an immutable copy of the user's row.

Principals are cached between requests, so they hold this snapshot rather than an ORM
object bound to one request's database session. `User.snapshot()` makes one.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from .scopes import Role


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
