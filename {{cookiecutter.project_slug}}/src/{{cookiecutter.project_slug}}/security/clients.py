"""Who is on the other end of a request."""

from starlette.requests import HTTPConnection


def client_address(request: HTTPConnection) -> str:
    # The proxy-headers middleware has already put a trusted proxy's client here.
    return request.client.host if request.client else "unknown"
