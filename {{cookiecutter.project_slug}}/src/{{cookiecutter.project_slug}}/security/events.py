"""Security events: logged on their own logger so they can be shipped and alerted on apart."""

import logging

logger = logging.getLogger(__name__)


def security_event(event: str, **fields: str) -> None:
    """Log `event`; callers pass identifiers only, never a password, token or key."""
    logger.info(event, extra={"event": event, "fields": fields})
