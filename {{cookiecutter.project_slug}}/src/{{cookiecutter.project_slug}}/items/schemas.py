import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from ..schemas import RequestBody

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]


class ItemCreate(RequestBody):
    title: Title
    description: Description | None = None


class ItemUpdate(RequestBody):
    """PATCH's one rule: a field left out is kept, a field sent is set, and `null` sets
    it empty, so a field that cannot be empty refuses `null` (422)."""

    title: Title | None = None
    description: Description | None = None

    @field_validator("title")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("cannot be null; leave it out to keep it")
        return value


class ItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    owner_id: uuid.UUID
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID
{%- endif %}
    created_at: datetime
