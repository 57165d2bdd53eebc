"""Security headers on every response, errors included.

The header lists are encoded once here; per request the middleware only appends them.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
# The docs pages (docs.py) load only files of this app and have no inline script, so
# each gets just what its viewer needs beyond 'self'. Swagger UI (/docs, and the assets
# under it): data: images (icons inside swagger-ui.css). ReDoc (/redoc) also needs
# inline styles (its styled-components write <style> elements; a nonce cannot be used
# with a header fixed at start-up) and blob: workers (its search index). Nothing else:
# no fonts, no frames, no form posts; ReDoc's "by Redocly" logo from its CDN is refused.
_DOCS_BASE = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'"
)
SWAGGER_CSP = f"{_DOCS_BASE}; style-src 'self'"
REDOC_CSP = f"{_DOCS_BASE}; style-src 'self' 'unsafe-inline'; worker-src blob:"
HSTS = "max-age=63072000; includeSubDomains"
# Headers to add, and their names: a response's own headers of those names are dropped.
HeaderSet = tuple[list[tuple[bytes, bytes]], frozenset[bytes]]

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
    def __init__(
        self, app: ASGIApp, *, hsts: bool, page_policies: dict[str, str] | None = None
    ) -> None:
        """`page_policies` maps path prefixes (HTML pages) to their own CSP; every other
        response gets the JSON one and `Cache-Control: no-store`."""
        self.app = app
        extra = [(b"strict-transport-security", HSTS.encode())] if hsts else []
        api_headers = [
            *_COMMON,
            *extra,
            (b"content-security-policy", JSON_CSP.encode()),
            # Tokens and user data must not linger in shared or browser caches.
            (b"cache-control", b"no-store"),
        ]
        self.api_headers: HeaderSet = (api_headers, frozenset(n for n, _ in api_headers))
        self.page_headers: list[tuple[str, HeaderSet]] = []
        for prefix, policy in (page_policies or {}).items():
            headers = [*_COMMON, *extra, (b"content-security-policy", policy.encode())]
            self.page_headers.append((prefix, (headers, frozenset(n for n, _ in headers))))
        self.page_prefixes = tuple(prefix for prefix, _ in self.page_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers, names = self.api_headers
        if self.page_prefixes and path.startswith(self.page_prefixes):
            headers, names = next(h for p, h in self.page_headers if path.startswith(p))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
