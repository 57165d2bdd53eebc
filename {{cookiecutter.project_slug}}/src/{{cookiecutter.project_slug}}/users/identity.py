"""What a request knows about its caller: an immutable copy of the user's row.

Principals are cached between requests, so they hold this snapshot rather than an ORM
object bound to one request's database session.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from ..security.scopes import Role
from .models import User


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "UserSnapshot":
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            role=Role(user.role),
            is_active=user.is_active,
            email_verified=user.email_verified,
            created_at=user.created_at,
        )
