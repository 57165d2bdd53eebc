from typing import Annotated

from fastapi import Form
from pydantic import BaseModel, EmailStr, Field

from ..schemas import RequestBody

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


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    scope: str


class RefreshRequest(RequestBody):
    refresh_token: OpaqueToken


class VerifyEmailRequest(RequestBody):
    token: OpaqueToken


class EmailAddress(RequestBody):
    email: EmailStr


class PasswordResetConfirm(RequestBody):
    token: OpaqueToken
    new_password: Annotated[str, Field(max_length=4096)]


class Message(BaseModel):
    detail: str
