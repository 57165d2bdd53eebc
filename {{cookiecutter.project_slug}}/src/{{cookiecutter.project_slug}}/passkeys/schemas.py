import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..schemas import RequestBody
from ..users.schemas import Code, Password

# What the browser's `credential.toJSON()` gives; py_webauthn reads it (ceremonies.py).
CredentialJSON = Annotated[
    dict[str, Any],
    Field(description="The browser's `credential.toJSON()`, sent as it is."),
]


class Reauthentication(RequestBody):
    current_password: Password
    code: Code | None = Field(
        default=None, description="With two-factor authentication on: a TOTP or recovery code."
    )


class PasskeyCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=64, description="What the user calls it: Laptop, Phone."
    )
    credential: CredentialJSON


class PasskeyLogin(RequestBody):
    credential: CredentialJSON
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization: str | None = Field(
        default=None,
        max_length=100,
        description="The organization (id or slug) to bind the tokens to, as the password "
        "login's `organization`; omitted: the user's only organization, or none.",
    )
{%- endif %}


class PasskeyPublic(BaseModel):
    """A passkey as its owner's list shows it: never its public key or credential id."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Its latest login; null if none yet.")
