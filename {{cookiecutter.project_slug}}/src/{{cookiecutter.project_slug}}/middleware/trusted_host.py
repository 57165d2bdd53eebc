"""Answer only to the host names in `ALLOWED_HOSTS`; others get a JSON 400.

Links in mails are built from settings, not from `Host`, but a strict allow-list also
keeps cache poisoning and DNS rebinding away. Unlike Starlette's version, this one
parses bracketed IPv6 hosts and answers in the API's error shape.
"""

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = json.dumps({"detail": "Invalid host header"}).encode()


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allow_any = "*" in allowed_hosts
        self.exact = frozenset(h.lower() for h in allowed_hosts if not h.startswith("*."))
        self.suffixes = tuple(h.lower()[1:] for h in allowed_hosts if h.startswith("*."))

    def _allowed(self, host: str) -> bool:
        return self.allow_any or host in self.exact or host.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope["headers"]:
            if name == b"host":
                header = value.decode("latin-1").lower()
                break
        if self._allowed(_host_name(header)):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})
