"""Every table, imported in one place for Alembic and for start-up."""

from .api_keys.models import ApiKey
from .audit.models import AuditEvent
from .db import Base
from .items.models import Item
from .users.models import ActionToken, RefreshToken, User, UserSession

__all__ = [
    "ActionToken",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Item",
    "RefreshToken",
    "User",
    "UserSession",
]
