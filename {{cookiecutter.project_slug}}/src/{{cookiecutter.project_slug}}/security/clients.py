"""Who is on the other end of a request."""

from contextvars import ContextVar

from starlette.requests import HTTPConnection

# The current request's client address, for records made deep in a service (audit rows);
# set by the request-context middleware, None outside a request.
current_client_address: ContextVar[str | None] = ContextVar("client_address", default=None)


def client_address(request: HTTPConnection) -> str:
    # The proxy-headers middleware has already put a trusted proxy's client here.
    return request.client.host if request.client else "unknown"
