import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ..schemas import RequestBody
from ..security.scopes import OrganizationRole


def _not_an_id(slug: str) -> str:
    # A login names its organization by id or slug: a slug that reads as an id would be
    # taken for one.
    try:
        uuid.UUID(slug)
    except ValueError:
        return slug
    raise ValueError("must not be a UUID")


Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=2,
        max_length=63,
        # Checked before it is lower-cased.
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$",
    ),
    AfterValidator(_not_an_id),
]


class OrganizationCreate(RequestBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slug: Slug


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime


class OrganizationOfMine(BaseModel):
    """One of the caller's organizations, with their role in it."""

    id: uuid.UUID
    name: str
    slug: str
    role: OrganizationRole


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    username: str
    email: str
    role: OrganizationRole
    created_at: datetime


class MemberUpdate(RequestBody):
    role: OrganizationRole


class InvitationCreate(RequestBody):
    email: EmailStr
    role: OrganizationRole = Field(description="At most the inviter's own role.")


class InvitationPublic(BaseModel):
    """A pending invitation: never its token."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: OrganizationRole
    # The member who sent it; None once their account is closed.
    invited_by: uuid.UUID | None = Field(validation_alias="inviter_id")
    created_at: datetime
    expires_at: datetime


class InvitationAccept(RequestBody):
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class MembershipPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organization_id: uuid.UUID
    role: OrganizationRole
    created_at: datetime
