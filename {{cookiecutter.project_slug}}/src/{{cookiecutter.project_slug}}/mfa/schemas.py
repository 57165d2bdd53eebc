from pydantic import BaseModel, Field

from ..schemas import RequestBody
from ..users.schemas import Code, Password


class TotpSetupRequest(RequestBody):
    current_password: Password


class TotpSetup(BaseModel):
    # Base32, for an authenticator app that cannot read the URI.
    secret: str
    otpauth_uri: str


class TotpConfirm(RequestBody):
    code: Code


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="Single-use codes for logins without the device; shown this once."
    )


class TotpDisable(RequestBody):
    current_password: Password
    code: Code
