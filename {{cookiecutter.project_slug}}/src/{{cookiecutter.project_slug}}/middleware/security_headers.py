"""Security headers on every response, errors included.

The header lists are encoded once here; per request the middleware only appends them.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
# The docs pages (docs.py) load only files of this app and have no inline script. Beyond
# 'self' they need: inline styles (ReDoc's styled-components writes <style> elements;
# a nonce cannot be used with a header fixed at start-up), data: images (icons inside
# swagger-ui.css) and blob: workers (ReDoc's search index). Nothing else is allowed: no
# fonts, no frames, no form posts; ReDoc's "by Redocly" logo from its CDN is refused.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (
        b"permissions-policy",
        b"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        b"microphone=(), payment=(), usb=(), interest-cohort=()",
    ),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, docs_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_prefixes = docs_prefixes
        extra = [(b"strict-transport-security", HSTS.encode())] if hsts else []
        api_headers = [
            *_COMMON,
            *extra,
            (b"content-security-policy", JSON_CSP.encode()),
            # Tokens and user data must not linger in shared or browser caches.
            (b"cache-control", b"no-store"),
        ]
        docs_headers = [*_COMMON, *extra, (b"content-security-policy", DOCS_CSP.encode())]
        # Each list with the names it sets, which replace whatever the app sent.
        self.api_headers = (api_headers, frozenset(name for name, _ in api_headers))
        self.docs_headers = (docs_headers, frozenset(name for name, _ in docs_headers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_docs = bool(self.docs_prefixes) and path.startswith(self.docs_prefixes)
        headers, names = self.docs_headers if is_docs else self.api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
