"""The audit trail: security events kept in `audit_events`, and logged as before.

`record` adds an event's row to the caller's database session, so the row commits or
rolls back with the change it describes, and logs the event once that commit went
through (the same line security/events.py always wrote: nothing is logged for a change
that was rolled back). Callers pass identifiers only: each detail must be one of
DETAIL_FIELDS, whose names never say secret, and its text is redacted as log text is.

Some events can be repeated at will by anyone: a wrong password, a rejected code, a
probed admin route. `record_limited` takes those: every one is logged, but the table
keeps only the first of each ROWS_PER_SUBJECT window per subject (the account, or for a
name that is no account, the client's address). There is no budget shared between
subjects: a flood of other names or addresses cannot spend it, so the first failure
against a real account in each minute always has its row.
"""

import uuid
from enum import StrEnum

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ..db import utcnow
from ..log import redact_text, request_id_var
from ..security.clients import current_client_address
from ..security.events import security_event
from ..security.rate_limit import Bucket, RateLimiter, parse_limit
from .models import AuditEvent


class Event(StrEnum):
    """Every event the trail keeps; the table in docs/audit.md says when each is written."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_INACTIVE = "login_inactive"
    LOGGED_OUT = "logged_out"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105  # nosec B105
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  # nosec B105
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105  # nosec B105
    PASSWORD_RESET = "password_reset"  # noqa: S105  # nosec B105
    EMAIL_CHANGED = "email_changed"
    EMAIL_VERIFIED = "email_verified"
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    FIRST_ADMIN_CREATED = "first_admin_created"
    ADMIN_ACCESS_DENIED = "admin_access_denied"
    SESSION_REVOKED = "session_revoked"
    MFA_SETUP_STARTED = "mfa_setup_started"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RESET = "mfa_reset"
    MFA_CODE_REJECTED = "mfa_code_rejected"
    RECOVERY_CODE_USED = "recovery_code_used"
    ACCOUNT_DELETED = "account_deleted"
    REAUTHENTICATION_FAILED = "reauthentication_failed"
{%- if cookiecutter.passkeys == "yes" %}
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_LOGIN_FAILED = "passkey_login_failed"
{%- endif %}
{%- if cookiecutter.multi_tenancy == "yes" %}
    ORGANIZATION_CREATED = "organization_created"
    ORGANIZATION_SWITCHED = "organization_switched"
    MEMBER_ROLE_CHANGED = "member_role_changed"
    MEMBER_REMOVED = "member_removed"
    INVITATION_CREATED = "invitation_created"
    INVITATION_REVOKED = "invitation_revoked"
    INVITATION_ACCEPTED = "invitation_accepted"
{%- endif %}


# The only details a row may carry: identifiers and short facts. A new one is added
# here, where a reviewer sees it; none may be named like a secret (log.names_a_secret,
# a test checks).
{%- if cookiecutter.passkeys == "yes" %}
DETAIL_FIELDS = frozenset(
    {
        "by",
        "factor",
        "key_id",
        "login",
        "passkey_id",
        "reason",
        "remaining",
        "role",
        "session_id",
    }
)
{%- else %}
DETAIL_FIELDS = frozenset({"by", "factor", "key_id", "login", "remaining", "role", "session_id"})
{%- endif %}
MAX_DETAIL_LENGTH = 64
MAX_ADDRESS_LENGTH = 64  # the column's length
DetailValue = str | uuid.UUID

ROWS_PER_SUBJECT = parse_limit("1/minute")

# Where a session keeps the log lines of the events it holds until its commit.
_PENDING_LOG = "audit_events_to_log"


def record(
    db: AsyncSession,
    event: Event,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    client: str | None = None,
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None = None,
{%- endif %}
    **details: DetailValue,
) -> None:
    """Add `event` to `db`'s transaction; it is logged when that transaction commits.

    `user_id` is whom the event is about, `actor_id` who did it when that is someone
    else (an admin). The row's address is `client`, else the current request's; the
    log line shows `client` only when it is given, as it always did.
{%- if cookiecutter.multi_tenancy == "yes" %}
    `organization_id` is the organization it happened in, whose owners and admins read it.
{%- endif %}
    """
{%- if cookiecutter.multi_tenancy == "yes" %}
    _add(db, event, user_id, actor_id, client, _details(details), organization_id)
{%- else %}
    _add(db, event, user_id, actor_id, client, _details(details))
{%- endif %}


async def record_limited(
    db: AsyncSession,
    limiter: RateLimiter,
    event: Event,
    *,
    subject: str,
    user_id: uuid.UUID | None = None,
    client: str | None = None,
    **details: DetailValue,
) -> None:
    """`record` for an event anyone can repeat: only logged when `subject` already has
    its row this window.

    `subject` is what the event is about: `user:<id>` for an account, else what the
    flood is sent from (`address:<client>`), never a name the caller makes up, which
    would make every made-up name a row. The caller commits, as with `record`.
    """
    fields = _details(details)
    if await limiter.count(ROWS_PER_SUBJECT, Bucket.AUDIT_ROWS, event, subject):
        _add(db, event, user_id, None, client, fields)
    else:
        security_event(event.value, **_log_fields(user_id, None, client, fields))


def _add(
    db: AsyncSession,
    event: Event,
    user_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    client: str | None,
    details: dict[str, str],
{%- if cookiecutter.multi_tenancy == "yes" %}
    organization_id: uuid.UUID | None = None,
{%- endif %}
) -> None:
    request_id = request_id_var.get()
    db.add(
        AuditEvent(
            event=event.value,
            user_id=user_id,
            actor_id=actor_id,
{%- if cookiecutter.multi_tenancy == "yes" %}
            organization_id=organization_id,
{%- endif %}
            ip_address=(client or current_client_address.get() or "")[:MAX_ADDRESS_LENGTH] or None,
            request_id=None if request_id == "-" else request_id,
            created_at=utcnow(),
            details=details,
        )
    )
    pending: list[tuple[str, dict[str, str]]] = db.info.setdefault(_PENDING_LOG, [])
{%- if cookiecutter.multi_tenancy == "yes" %}
    fields = _log_fields(user_id, actor_id, client, details)
    if organization_id is not None:
        fields["organization_id"] = str(organization_id)
    pending.append((event.value, fields))
{%- else %}
    pending.append((event.value, _log_fields(user_id, actor_id, client, details)))
{%- endif %}


def _details(details: dict[str, DetailValue]) -> dict[str, str]:
    unknown = set(details) - DETAIL_FIELDS
    if unknown:
        # A programming error, found by the first test that records the event.
        raise ValueError(
            f"audit details {sorted(unknown)} are not in DETAIL_FIELDS: pass identifiers only"
        )
    return {name: redact_text(str(value))[:MAX_DETAIL_LENGTH] for name, value in details.items()}


def _log_fields(
    user_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    client: str | None,
    details: dict[str, str],
) -> dict[str, str]:
    fields: dict[str, str] = {}
    if user_id is not None:
        fields["user_id"] = str(user_id)
    if actor_id is not None:
        fields["by"] = str(actor_id)
    if client is not None:
        fields["client"] = client
    return fields | details


@orm_event.listens_for(Session, "after_commit")
def _log_committed_events(session: Session) -> None:
    for name, fields in session.info.pop(_PENDING_LOG, ()):
        security_event(name, **fields)


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted_events(session: Session, transaction: SessionTransaction) -> None:
    # Runs after `after_commit`: what is left here was rolled back or never committed.
    if transaction.parent is None:
        session.info.pop(_PENDING_LOG, None)
