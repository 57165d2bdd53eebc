"""Security mail: the account's address hears of every change to how the account is held,
so that a change its owner did not make does not go unnoticed.

`Notice` is the one catalogue: each member states a notice's subject, what happened and
what to do if it was not the owner; both parts of the mail are derived from it. A new
notice is one more member.

A notice goes out only for a change that committed: a route queues it after the service
call returned, and the services return only after their commit (a change that fails
raises, so nothing is queued). Like the other account mails it is sent by a background
task after the response, through the app's mailer, so it neither slows nor fails the
request. It holds nothing secret: no password, token, code or key.

Which notices the mailer may drop is stated here, per notice (`Wording.cap`), not by the
routes. A notice whose change its own flow already bounds is never dropped: otherwise a
flood of other mail to the address (links, key notices) would silence exactly the notice
an intruder wants unseen. Those flows are re-authentication, counted per user (password
{%- if cookiecutter.passkeys == "yes" %}
change, address change, two-factor on or off, a passkey's registration or removal,
account deletion), one reset link a minute, and an administrator's act. "API key added"
is the exception: anyone holding a bearer token can repeat it at will (create, revoke,
create), so it counts against a per-address budget of its own, apart from the link
mails', and crowds out nothing else.
{%- else %}
change, address change, two-factor on or off, account deletion), one reset link a
minute, and an administrator's act. "API key added" is the exception: anyone holding a
bearer token can repeat it at will (create, revoke, create), so it counts against a
per-address budget of its own, apart from the link mails', and crowds out nothing else.
{%- endif %}
"""

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, unique
from typing import Annotated

from fastapi import BackgroundTasks, Depends

from .config import Settings
from .mail import Mail, MailSender
from .security.identity import UserSnapshot
from .security.rate_limit import Bucket
from .services import ServicesDep

# What still works after each change decides the advice: a reset link goes to the
# account's address, and a reset ends every login and API key of the account.
_RESET = (
    "request a password reset for this address (a reset ends every login and API key of "
    "the account)"
)


@dataclass(frozen=True, slots=True)
class Wording:
    # `{project}`, `{username}` and the notice's facts (`{key_prefix}`) are filled in;
    # `advice`, what to do if the change was not the owner's, may also name `{contact}`.
    subject: str
    happened: str
    advice: str
    # The per-address mail budget the notice counts against; None (the default) for a
    # change its own flow bounds, which is never dropped (see the module's docstring).
    cap: Bucket | None = None


@unique
class Notice(Enum):
    """Every security notice, stated once."""

    PASSWORD_CHANGED = Wording(
        "Your {project} password was changed",
        "The password of your account {username} was changed.",
        f"If this was not you, someone else knows your password: {_RESET}.",
    )
    PASSWORD_RESET = Wording(
        "Your {project} password was reset",
        "The password of your account {username} was reset with a link mailed here.",
        "If this was not you, someone can read mail sent to this address: secure the "
        f"mailbox, then {_RESET}.",
    )
    # To the old address, where a password reset no longer leads (see docs: mail).
    EMAIL_CHANGED = Wording(
        "Your {project} email address was changed",
        "Your account {username} no longer uses this address: its mail, password reset "
        "links included, now goes to the new one.",
        "If this was not you, a password reset from this address cannot help any more: "
        "{contact} at once.",
    )
    MFA_ENABLED = Wording(
        "Two-factor authentication was turned on for {project}",
        "Two-factor authentication is now on for your account {username}: logging in "
        "takes a code from an authenticator app as well as the password.",
        "If this was not you, someone else got into your account and holds its codes: "
        "{contact}; an administrator can turn two-factor authentication off for you.",
    )
    MFA_DISABLED = Wording(
        "Two-factor authentication was turned off for {project}",
        "Two-factor authentication is now off for your account {username}: logging in "
        "takes only the password.",
        f"If this was not you, someone else knows your password: {_RESET}, then turn "
        "two-factor authentication on again.",
    )
    MFA_RESET = Wording(
        "An administrator turned off two-factor authentication for {project}",
{%- if cookiecutter.passkeys == "yes" %}
        "An administrator turned off two-factor authentication for your account "
        "{username} and removed its passkeys, as is done when an authenticator is lost, "
        "and ended its logins.",
{%- else %}
        "An administrator turned off two-factor authentication for your account "
        "{username}, as is done when an authenticator is lost, and ended its logins.",
{%- endif %}
        "If you did not ask for this, {contact} at once, and " + _RESET + ".",
    )
    API_KEY_CREATED = Wording(
        "A new API key was added to your {project} account",
        "An API key starting {key_prefix} was added to your account {username}.",
        f"If this was not you, someone else can act as you: {_RESET}.",
        cap=Bucket.MAIL_KEY_NOTICES,
    )
{%- if cookiecutter.passkeys == "yes" %}
    PASSKEY_ADDED = Wording(
        "A passkey was added to your {project} account",
        "A passkey named {passkey_name} was added to your account {username}: it logs in "
        "without the password.",
        "If this was not you, someone else can log in as you: {contact} at once; an "
        "administrator can remove every passkey of the account.",
    )
    PASSKEY_REMOVED = Wording(
        "A passkey was removed from your {project} account",
        "A passkey of your account {username} was removed: it no longer logs in.",
        f"If this was not you, someone else knows your password: {_RESET}.",
    )
{%- endif %}
    ACCOUNT_DELETED = Wording(
        "Your {project} account was deleted",
        "Your account {username} was deleted with everything it held. This cannot be undone.",
        "If this was not you, someone else got into your account: {contact}.",
    )


def security_notice(
    settings: Settings, notice: Notice, user: UserSnapshot, *, to: str | None = None, **facts: str
) -> Mail:
    """The notice for `user`, to their address or `to` (the old one after a change)."""
    wording = notice.value
    contact = (
        f"write to {settings.SUPPORT_EMAIL}"
        if settings.SUPPORT_EMAIL
        else f"contact the people who run {settings.PROJECT_NAME}"
    )
    fields = {"project": settings.PROJECT_NAME, "username": user.username, **facts}
    paragraphs = [
        wording.happened.format(**fields),
        "When: " + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        wording.advice.format(contact=contact, **fields),
    ]
    return Mail(
        to=to or user.email,
        subject=wording.subject.format(**fields),
        text="\n\n".join(paragraphs) + "\n",
        html="".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs),
        cap=wording.cap,
    )


class SecurityMail:
    """Queues notices on the request's background tasks, sent after the response."""

    def __init__(self, settings: Settings, mailer: MailSender, background: BackgroundTasks):
        self._settings = settings
        self._mailer = mailer
        self._background = background

    def queue(
        self, notice: Notice, user: UserSnapshot, *, to: str | None = None, **facts: str
    ) -> None:
        """Call once the change committed: the notice is built now and sent later."""
        mail = security_notice(self._settings, notice, user, to=to, **facts)
        self._background.add_task(self._mailer.send, mail)


async def security_mail(services: ServicesDep, background: BackgroundTasks) -> SecurityMail:
    return SecurityMail(services.settings, services.mailer, background)


SecurityMailDep = Annotated[SecurityMail, Depends(security_mail)]
