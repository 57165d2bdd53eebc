import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from ..schemas import RequestBody
from ..security.scopes import ALL_SCOPES, parse_scope


def _known_scope(value: str) -> str:
    if value not in ALL_SCOPES:
        raise ValueError(f"unknown scope; choose from {', '.join(sorted(ALL_SCOPES))}")
    return value


# One of the registry's scopes, listed as an enum in the OpenAPI document.
Scope = Annotated[
    str,
    AfterValidator(_known_scope),
    WithJsonSchema({"type": "string", "enum": sorted(ALL_SCOPES)}),
]


class ApiKeyCreate(RequestBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(ALL_SCOPES))]
    expires_in_days: Annotated[int, Field(ge=1, le=365)] | None = None


class ApiKeyPublic(BaseModel):
    """A key as lists show it: never the key itself."""

    # Read from the model's `scope` string, or by name when copied into ApiKeyCreated.
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str] = Field(validation_alias="scope")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None = Field(
        description="The organization the key acts in: its creating session's."
    )
{%- endif %}

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scope(cls, value: object) -> object:
        return sorted(parse_scope(value)) if isinstance(value, str) else value


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key. It is shown this once and cannot be recovered.")
