import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from ..schemas import RequestBody
from ..security.passwords import password_problem
from ..security.scopes import Role

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-zA-Z0-9_.-]{3,32}$"),
]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# Length is checked by password_problem, which names the rule; this only bounds the input.
Password = Annotated[str, Field(max_length=4096)]
# A TOTP code (6 digits) or a recovery code (xxxx-xxxx-xxxx-xxxx); the bound keeps junk out.
Code = Annotated[str, Field(min_length=1, max_length=64)]


class UserCreate(RequestBody):
    username: Username
    email: EmailStr
    password: Password
    full_name: FullName | None = None

    @model_validator(mode="after")
    def _password_is_acceptable(self) -> Self:
        problem = password_problem(self.password, username=self.username, email=self.email)
        if problem:
            raise ValueError(problem)
        return self


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime


class UserUpdateMe(RequestBody):
    """What a user may change about themselves; role and state are not on this list."""

    email: EmailStr | None = None
    full_name: FullName | None = None
    # Required with `email`: the address is where password resets go.
    current_password: Password | None = None
    # With `email` and two-factor authentication on: a TOTP code or a recovery code.
    code: Code | None = None

    @model_validator(mode="after")
    def _email_change_needs_the_password(self) -> Self:
        if self.email is not None and self.current_password is None:
            raise ValueError("current_password is required to change the email address")
        return self


class PasswordChange(RequestBody):
    current_password: Password
    new_password: Password
    # With two-factor authentication on: a TOTP code or a recovery code.
    code: Code | None = None


class AdminUserUpdate(RequestBody):
    role: Role | None = None
    is_active: bool | None = None
