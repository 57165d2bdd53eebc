import uuid
from datetime import datetime

from sqlalchemy import String, {% if cookiecutter.multi_tenancy == "yes" %}UniqueConstraint, {% endif %}Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow
from ..ownership import Owned
{%- if cookiecutter.multi_tenancy == "yes" %}
from ..tenancy.owned import TenantOwned


class Item(Owned, TenantOwned, Base):
    """An organization's item; `owner_id` is the member who created it."""

    __tablename__ = "items"
    # What a tenant-owned row of another table refers to: (organization_id, id), so that
    # it cannot point into another organization.
    __table_args__ = (UniqueConstraint("organization_id", "id"),)
{%- else %}


class Item(Owned, Base):
    __tablename__ = "items"
{%- endif %}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
