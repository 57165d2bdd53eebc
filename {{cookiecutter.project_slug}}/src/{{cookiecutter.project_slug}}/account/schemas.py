from ..mfa.schemas import Code
from ..schemas import RequestBody
from ..users.schemas import Password


class AccountDeletion(RequestBody):
    current_password: Password
    # With two-factor authentication on: a TOTP code or an unused recovery code.
    code: Code | None = None
