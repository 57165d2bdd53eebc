"""The OpenAPI document's security: the password flow, the API-key header, per route.

Protected routes declare one plain dependency (`authorize` or `authorize_bearer`), not
FastAPI's security-scheme classes, to keep the request path short (see
auth/dependencies.py). So the schemes are described here instead, from the same facts:
the app's routes are walked, and each route's required scopes are read off its
dependency. A route added anywhere is described without being listed anywhere.
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from .access.dependencies import API_KEY_HEADER, authorize, authorize_bearer
from .security.scopes import SCOPE_DESCRIPTIONS

OAUTH2 = "OAuth2PasswordBearer"
API_KEY = "APIKeyHeader"


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


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every API route of `app` with its full path, included routers' prefixes added."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path_format is not None:
            yield context.path_format, route


def describe_security(app: FastAPI, token_endpoint: Callable[..., Any]) -> None:
    """Make `app.openapi()` declare the schemes, with the password flow's token URL where
    `token_endpoint` is served, and each protected route's requirement."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=app.summary
            )
            (token_url,) = (
                path for path, route in _api_routes(app) if route.endpoint is token_endpoint
            )
            document.setdefault("components", {})["securitySchemes"] = {
                OAUTH2: {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": token_url, "scopes": SCOPE_DESCRIPTIONS}},
                },
                API_KEY: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
            }
            for path, route in _api_routes(app):
                requirement = _requirements(route.dependant)
                if route.include_in_schema and requirement is not None:
                    operations = document["paths"][path]
                    for method in route.methods or ():
                        operations[method.lower()]["security"] = requirement
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
