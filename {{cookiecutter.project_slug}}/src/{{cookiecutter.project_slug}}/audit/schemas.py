import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: str
    user_id: uuid.UUID | None
    actor_id: uuid.UUID | None
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None
{%- endif %}
    ip_address: str | None
    request_id: str | None
    created_at: datetime
    details: dict[str, str]
