"""Answer only to the host names in `ALLOWED_HOSTS`; others get a JSON 400.

Links in mails are built from settings, not from `Host`, but a strict allow-list also
keeps cache poisoning and DNS rebinding away. Starlette's TrustedHostMiddleware decides
(it parses `[::1]:8000` and refuses malformed hosts); it answers in plain text, so it
runs here against a stand-in app that only records the admission, and a refusal gets
the API's error shape instead. No `www.` redirect: an unknown host is never sent anywhere.

Its answer depends on the `Host` header alone, so it is remembered per header value:
a client sends the same one on every request. At most MAX_REMEMBERED values are kept,
so a flood of made-up hosts cannot grow the memory; past that, Starlette decides anew.
"""

import json

from starlette.middleware.trustedhost import TrustedHostMiddleware as StarletteTrustedHost
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ADMITTED = "trusted_host.admitted"
MAX_REMEMBERED = 64
_REFUSAL: list[Message] = [
    {
        "type": "http.response.start",
        "status": 400,
        "headers": [(b"content-type", b"application/json")],
    },
    {"type": "http.response.body", "body": json.dumps({"detail": "Invalid host header"}).encode()},
]


async def _admit(scope: Scope, _receive: Receive, _send: Send) -> None:
    scope[_ADMITTED] = True


async def _discard(_message: Message) -> None:
    """Where Starlette's plain-text refusal goes: ours is sent instead."""


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.check = StarletteTrustedHost(_admit, allowed_hosts=allowed_hosts, www_redirect=False)
        self._decided: dict[bytes | None, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not await self._admits(scope, receive):
            for message in _REFUSAL:
                await send(message)
            return
        await self.app(scope, receive, send)

    async def _admits(self, scope: Scope, receive: Receive) -> bool:
        # The first Host header, as Starlette reads it.
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        admitted = self._decided.get(host)
        if admitted is None:
            await self.check(scope, receive, _discard)
            admitted = bool(scope.pop(_ADMITTED, False))
            if len(self._decided) < MAX_REMEMBERED:
                self._decided[host] = admitted
        return admitted
