import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """A security event, kept for AUDIT_RETENTION_DAYS.

    `user_id` and `actor_id` are not foreign keys on purpose: the trail must outlive the
    accounts it names, and nothing may delete it but the retention purge.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        # The admin endpoint's filters, each read newest first.
        Index("ix_audit_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_audit_events_event_created_at", "event", "created_at"),
        # The listing without a filter, and the retention purge.
        Index("ix_audit_events_created_at", "created_at"),
{%- if cookiecutter.multi_tenancy == "yes" %}
        # An organization's own trail, newest first.
        Index("ix_audit_events_organization_id_created_at", "organization_id", "created_at"),
{%- endif %}
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event: Mapped[str] = mapped_column(String(64))
    # Whom the event is about.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Who did it, when that is not the user themselves (an admin).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
{%- if cookiecutter.multi_tenancy == "yes" %}
    # The organization the event happened in, if any; its owners and admins read it.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
{%- endif %}
    ip_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
