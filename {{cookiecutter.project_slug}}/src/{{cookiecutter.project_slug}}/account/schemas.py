from ..schemas import RequestBody
from ..users.schemas import Code, Password


class Reauthentication(RequestBody):
    """The caller's proof that they are who their session says (account/reauthentication.py)."""

    current_password: Password
    # With two-factor authentication on: a TOTP code or an unused recovery code.
    code: Code | None = None


class AccountDeletion(Reauthentication):
    pass


class TwoFactorReset(Reauthentication):
    """The admin's own password, and code when the admin has two-factor on."""
