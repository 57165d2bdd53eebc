"""Outgoing mail: SMTP when SMTP_HOST is set, else a log line saying what was not sent.

Sending never fails the request that asked for it: routes hand messages to a background
task, and a failure is logged (recipient and subject only) instead of raised. aiosmtplib
talks SMTP on the event loop without blocking it. A mail names the per-recipient budget
it counts against, whichever route sends it, so the app cannot be used to flood an inbox;
a security notice whose change its own flow already bounds counts against none, so no
flood of other mail can silence it (see `Notice` in security_mail.py).
"""

import html
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from .config import Settings
from .log import redact_text
from .security.events import security_event
from .security.rate_limit import Bucket, RateLimiter

logger = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    # The per-recipient budget this mail counts against; None: it is never dropped.
    cap: Bucket | None = Bucket.MAIL_TO


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpMailSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, mail: Mail) -> None:
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.EMAIL_FROM
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        password = settings.SMTP_PASSWORD.get_secret_value() if settings.SMTP_PASSWORD else None
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.SMTP_HOST,
                port=settings.SMTP_PORT,
                username=settings.SMTP_USER or None,
                password=password,
                start_tls=settings.SMTP_TLS,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            logger.error(
                "mail not sent", extra={"to": mail.to, "subject": mail.subject, "error": str(exc)}
            )
            return
        logger.info("mail sent", extra={"to": mail.to, "subject": mail.subject})


class LogMailSender:
    """For development without a mail server: the mail goes to the log instead, with
    its link's token masked (a token in a log is a credential anyone can read). To
    follow links, run a local SMTP sink (see docs/operations.md)."""

    async def send(self, mail: Mail) -> None:
        logger.warning(
            "mail not sent: SMTP_HOST is empty",
            extra={"to": mail.to, "subject": mail.subject, "body": redact_text(mail.text)},
        )


class CappedMailSender:
    """At most RATE_LIMIT_LOGIN mails of one budget to one address per window; the rest
    are dropped (and logged as an event). Link mails share one budget, "API key added"
    notices have their own, and the other notices none (see `Notice`)."""

    def __init__(self, sender: MailSender, limiter: RateLimiter) -> None:
        self._sender = sender
        self._limiter = limiter

    async def send(self, mail: Mail) -> None:
        recipient = mail.to.strip().lower()
        if mail.cap is not None and not await self._limiter.count(
            self._limiter.login, mail.cap, recipient
        ):
            # Logged only, not kept in the audit trail: it comes in floods of requests
            # for one address, and the requests' own events are kept.
            security_event("mail_throttled", to=recipient, budget=mail.cap.value)
            return
        await self._sender.send(mail)


def create_mail_sender(settings: Settings, limiter: RateLimiter) -> MailSender:
    sender = SmtpMailSender(settings) if settings.SMTP_HOST else LogMailSender()
    return CappedMailSender(sender, limiter)


def link_mail(*, to: str, subject: str, intro: str, link: str, lifetime: str) -> Mail:
    """A mail whose point is one link, in plain text and HTML."""
    text = f"{intro}\n\n{link}\n\nThe link works once and expires in {lifetime}.\n"
    safe_link = html.escape(link, quote=True)
    body = (
        f"<p>{html.escape(intro)}</p>"
        f'<p><a href="{safe_link}">{safe_link}</a></p>'
        f"<p>The link works once and expires in {html.escape(lifetime)}.</p>"
    )
    return Mail(to=to, subject=subject, text=text, html=body)
