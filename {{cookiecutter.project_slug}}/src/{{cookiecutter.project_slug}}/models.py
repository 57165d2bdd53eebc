"""Every table, imported in one place for Alembic and for start-up."""

from .db import Base
from .items.models import Item
from .users.models import RefreshToken, User, UserSession

__all__ = ["Base", "Item", "RefreshToken", "User", "UserSession"]
