"""Every table, imported in one place for Alembic and for start-up."""

from .api_keys.models import ApiKey
from .audit.models import AuditEvent
from .db import Base
from .items.models import Item
from .mfa.models import RecoveryCode, TotpSecret
{%- if cookiecutter.passkeys == "yes" %}
from .passkeys.models import Passkey, PasskeyChallenge
{%- endif %}
{%- if cookiecutter.multi_tenancy == "yes" %}
from .tenancy.models import Invitation, Membership, Organization
{%- endif %}
from .users.models import ActionToken, RefreshToken, User, UserSession

__all__ = [
    "ActionToken",
    "ApiKey",
    "AuditEvent",
    "Base",
{%- if cookiecutter.multi_tenancy == "yes" %}
    "Invitation",
{%- endif %}
    "Item",
{%- if cookiecutter.multi_tenancy == "yes" %}
    "Membership",
    "Organization",
{%- endif %}
{%- if cookiecutter.passkeys == "yes" %}
    "Passkey",
    "PasskeyChallenge",
{%- endif %}
    "RecoveryCode",
    "RefreshToken",
    "TotpSecret",
    "User",
    "UserSession",
]
