"""In production, send plain-HTTP requests to HTTPS, but the health checks.

Probes (a container's HEALTHCHECK, a load balancer) talk plain HTTP to the process
itself; redirecting them would mark a healthy app as down.
"""

from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class HTTPSRedirectMiddleware:
    def __init__(self, app: ASGIApp, *, exempt_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["scheme"] == "http"
            and not scope["path"].startswith(self.exempt_prefixes)
        ):
            url = URL(scope=scope).replace(scheme="https", port=None)
            await RedirectResponse(url, status_code=307)(scope, receive, send)
            return
        await self.app(scope, receive, send)
