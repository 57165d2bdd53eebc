"""The OpenAPI document's security: the password flow, the API-key header, per route.

Protected routes declare one plain dependency (`authorize` or `authorize_bearer`), not
FastAPI's security-scheme classes, to keep the request path short (see
auth/dependencies.py). So the schemes are described here instead, from the same facts:
each route's required scopes are read off its dependency.
"""

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .auth.dependencies import API_KEY_HEADER, TOKEN_URL, authorize, authorize_bearer
from .security.scopes import SCOPE_DESCRIPTIONS

OAUTH2 = "OAuth2PasswordBearer"
API_KEY = "APIKeyHeader"
SECURITY_SCHEMES: dict[str, Any] = {
    OAUTH2: {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": SCOPE_DESCRIPTIONS}},
    },
    API_KEY: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
}


def _requirements(dependant: Dependant) -> list[dict[str, list[str]]] | None:
    """How the route's caller may authenticate, with the scopes each way must carry."""
    for dependency in dependant.dependencies:
        scopes = sorted(set(dependency.own_oauth_scopes or []))
        if dependency.call is authorize:
            return [{OAUTH2: scopes}, {API_KEY: []}]
        if dependency.call is authorize_bearer:
            return [{OAUTH2: scopes}]
        found = _requirements(dependency)
        if found is not None:
            return found
    return None


def describe_security(app: FastAPI, prefix: str, routers: Iterable[APIRouter]) -> None:
    """Make `app.openapi()` declare the schemes and each protected route's requirement,
    for the `routers` that `app` includes under `prefix`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=app.summary
            )
            document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for route in (route for router in routers for route in router.routes):
                if not isinstance(route, APIRoute) or not route.include_in_schema:
                    continue
                requirement = _requirements(route.dependant)
                if requirement is not None:
                    operations = document["paths"][prefix + route.path_format]
                    for method in route.methods or ():
                        operations[method.lower()]["security"] = requirement
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
