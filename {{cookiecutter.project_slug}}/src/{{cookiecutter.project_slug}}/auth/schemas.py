import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Form
from pydantic import BaseModel, EmailStr, Field

from ..schemas import RequestBody
from ..security.clients import MAX_USER_AGENT_LENGTH

# Tokens we issue are 43 characters; the bound keeps junk out, not mistaken tokens.
OpaqueToken = Annotated[str, Field(min_length=1, max_length=4096)]

# The login form's field for users with two-factor authentication on.
OtpField = Annotated[
    str | None,
    Form(
        max_length=64,
        description="With two-factor authentication on: the current TOTP code, or an "
        "unused recovery code.",
    ),
]

{%- if cookiecutter.multi_tenancy == "yes" %}
# The login form's field naming the organization its tokens are bound to.
OrganizationField = Annotated[
    str | None,
    Form(
        max_length=100,
        description="The organization (id or slug) to bind the tokens to; omitted: the "
        "user's only organization, or none when they have several.",
    ),
]
{%- endif %}


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    scope: str


class RefreshRequest(RequestBody):
    refresh_token: OpaqueToken
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None = Field(
        default=None,
        description="Switch: bind the session's new tokens to this organization instead.",
    )


class OrganizationSwitch(RequestBody):
    organization_id: uuid.UUID = Field(
        description="Bind the session's new tokens to this organization instead."
    )
{%- endif %}


class VerifyEmailRequest(RequestBody):
    token: OpaqueToken


class EmailAddress(RequestBody):
    email: EmailStr


class PasswordResetConfirm(RequestBody):
    token: OpaqueToken
    new_password: Annotated[str, Field(max_length=4096)]


class Message(BaseModel):
    detail: str


class LoginSessionPublic(BaseModel):
    """A live login session as its owner's list shows it: never a token."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime = Field(description="The login, or the session's latest refresh.")
    user_agent: str | None = Field(
        description="The login's User-Agent without control characters, cut to "
        f"{MAX_USER_AGENT_LENGTH} characters."
    )
    ip_address: str | None = Field(description="The client address the login came from.")
    current: bool = Field(description="The session of the credential making this request.")
