"""Who is on the other end of a request."""

import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.requests import HTTPConnection

# The longest textual IP address: an IPv6 one with an IPv4 tail.
MAX_ADDRESS_LENGTH = 45
# Enough for any real browser's User-Agent; the header itself may be kilobytes of junk.
MAX_USER_AGENT_LENGTH = 256
# The current request's client address, for records made deep in a service (audit rows);
# set by the request-context middleware, None outside a request.
current_client_address: ContextVar[str | None] = ContextVar("client_address", default=None)


def client_address(request: HTTPConnection) -> str:
    # The proxy-headers middleware has already put a trusted proxy's client here.
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True)
class ClientDetails:
    """Where a login came from, as its owner sees it in their list of sessions."""

    address: str
    user_agent: str | None


def client_details(request: HTTPConnection) -> ClientDetails:
    return ClientDetails(
        address=client_address(request)[:MAX_ADDRESS_LENGTH],
        user_agent=_readable(request.headers.get("user-agent", ""), MAX_USER_AGENT_LENGTH),
    )


def _readable(text: str, limit: int) -> str | None:
    """`text` without control or format characters (no escape sequences, no reordering of
    what a page shows), cut to `limit`; None when nothing is left. The client chose it."""
    kept = "".join(char for char in text if not unicodedata.category(char).startswith("C"))
    return kept.strip()[:limit].rstrip() or None
