"""Error reports to Sentry, when SENTRY_DSN is set.

Unhandled errors reach Sentry through the log: the request middleware logs each one,
with its traceback, before it answers 500, and Sentry's logging integration makes every
error line an event. Other log lines are not sent as breadcrumbs: they hold client
addresses, and the request id leads to them in your own logs.

What leaves the process is no more than what the logs may hold: no personal data
(Sentry's default: no address, cookies or identifying headers), no request body
and no local variables (either may hold a password), and every event passes the logs'
redaction (log.py) on its way out, and loses the parameters of any SQL statement. Each
carries its request id as a tag, which leads to the request's log lines and its
`X-Request-ID`.
"""

import logging
from typing import Any, cast

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint

from .config import Settings
from .log import NO_REQUEST_ID, redact_value, request_id_var

# Where the SDK puts a statement's parameters (the breadcrumb and span of each query,
# in the versions that record them); the engine hides them from its errors already.
STATEMENT_PARAMETERS = "db.params"


def scrub_event(event: Event, _hint: Hint) -> Event:
    """`event` with what the logs mask masked and no statement parameters, tagged with
    the request it came from."""
    scrubbed = cast(Event, _without_statement_parameters(redact_value("event", dict(event))))
    request_id = request_id_var.get()
    if request_id != NO_REQUEST_ID:
        scrubbed.setdefault("tags", {})["request_id"] = request_id
    return scrubbed


def _without_statement_parameters(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_statement_parameters(item)
            for key, item in value.items()
            if key != STATEMENT_PARAMETERS
        }
    if isinstance(value, list):
        return [_without_statement_parameters(item) for item in value]
    return value


def init_sentry(settings: Settings, transport: Transport | None = None) -> bool:
    """Start reporting to SENTRY_DSN (through `transport`, if given); False when unset."""
    if not settings.SENTRY_DSN:
        return False
    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.ENVIRONMENT,
        # No personal data: left unset, `send_default_pii` is off (and setting it is
        # deprecated). The tests check that no address, cookie or credential is sent.
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        transport=transport,
    )
    return True
