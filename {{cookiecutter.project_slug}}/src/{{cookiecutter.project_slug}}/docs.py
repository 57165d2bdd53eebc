"""The API docs (Swagger UI, ReDoc, the OpenAPI document) behind HTTP Basic.

Every file the pages load is served by this app: the Swagger UI 5 and ReDoc bundles come
from the `fastapi-offline` package, the pages and Swagger UI's start-up script from here.
No inline script and no other origin, so the docs CSP can stay at 'self'.
"""

import html
import secrets
from base64 import b64decode
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from .config import Settings
from .security.clients import client_address
from .security.rate_limit import Bucket, RateLimiter

ASSETS_PATH = "/docs/assets"
OPENAPI_PATH = "/openapi.json"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="docs"'}
# The docs describe every route; a shared or browser cache has no business keeping them.
NO_STORE = {"Cache-Control": "no-store"}
ASSET_CACHE = {"Cache-Control": "private, max-age=3600"}

# Allow-listed by name, so a request can never name another file of the package.
BUNDLED_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}

# Swagger UI's start-up, kept out of the page so scripts need no 'unsafe-inline'.
SWAGGER_INIT_JS = """\
"use strict";
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapiUrl,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  // A token typed into "Authorize" is gone when the tab closes: not kept in localStorage.
  persistAuthorization: false,
  // Never ask a URL in the address bar which spec to load, nor send it to validator.swagger.io.
  queryConfigEnabled: false,
  validatorUrl: null,
});
"""

SWAGGER_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""

REDOC_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def bundled_assets_dir() -> Path:
    """The directory of `fastapi-offline`'s static files (an installed package, not a zip)."""
    return Path(str(files("fastapi_offline") / "static"))


class DocsCredentials:
    """A dependency: the request carries the `DOCS_USERNAME`/`DOCS_PASSWORD` Basic credentials."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    async def __call__(self, request: Request) -> None:
        limiter: RateLimiter = request.app.state.services.limiter
        address = client_address(request)
        authorization = request.headers.get("authorization")
        given_username, given_password = _basic_credentials(authorization)
        # Both comparisons always run, each in constant time: no early exit tells which was wrong.
        username_ok = secrets.compare_digest(given_username, self.username)
        password_ok = secrets.compare_digest(given_password, self.password)
        if username_ok and password_ok:
            # The right credentials cost nothing (a page loads several files), but get
            # no answer either while the address's wrong guesses have spent the budget.
            await limiter.check(limiter.login, Bucket.DOCS_AUTH, address)
            return
        if authorization:
            # Wrong guesses count against RATE_LIMIT_LOGIN per address, like failed logins,
            # and each is counted before it is answered: of N sent at once, at most the
            # limit's worth get a 401, the rest 429.
            await limiter.hit(limiter.login, Bucket.DOCS_AUTH, address)
        else:
            # No credentials yet (a browser's first request): not a guess.
            await limiter.check(limiter.login, Bucket.DOCS_AUTH, address)
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Valid docs credentials required",
            headers=BASIC_CHALLENGE,
        )


def _basic_credentials(authorization: str | None) -> tuple[bytes, bytes]:
    """User and password of a Basic header as bytes (RFC 7617); empty when absent or bad.

    They are compared with the UTF-8 encoded settings, so bytes that are not UTF-8 simply
    do not match. A header value arrives decoded as Latin-1, so any byte can be in it.
    """
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return b"", b""
    try:
        decoded = b64decode(encoded.strip(), validate=True)
    except ValueError:
        # binascii.Error (malformed base64) is a ValueError, and so is a non-ASCII character.
        return b"", b""
    username, _, password = decoded.partition(b":")
    return username, password


def add_docs(app: FastAPI, settings: Settings) -> None:
    """Serve the docs when `DOCS_PASSWORD` is set; without it they do not exist (404)."""
    if settings.DOCS_PASSWORD is None:
        return
    require_credentials = DocsCredentials(
        settings.DOCS_USERNAME, settings.DOCS_PASSWORD.get_secret_value()
    )
    assets_dir = bundled_assets_dir()
    title = html.escape(app.title)
    router = APIRouter(include_in_schema=False, dependencies=[Depends(require_credentials)])

    def page(template: str, request: Request) -> HTMLResponse:
        # root_path is set by the server (uvicorn --root-path) when the app sits under a prefix.
        root = html.escape(request.scope.get("root_path", ""))
        body = template.format(
            title=title, assets=root + ASSETS_PATH, openapi_url=root + OPENAPI_PATH
        )
        return HTMLResponse(body, headers=NO_STORE)

    @router.get(OPENAPI_PATH)
    async def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi(), headers=NO_STORE)

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(SWAGGER_HTML, request)

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        return page(REDOC_HTML, request)

    @router.get(f"{ASSETS_PATH}/swagger-init.js")
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT_JS, media_type="text/javascript", headers=ASSET_CACHE)

    @router.get(ASSETS_PATH + "/{name}")
    async def bundled_asset(name: str) -> FileResponse:
        media_type = BUNDLED_ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Not Found")
        return FileResponse(assets_dir / name, media_type=media_type, headers=ASSET_CACHE)

    app.include_router(router)
