"""The OpenAPI document's security and error answers, per route.

Protected routes declare one plain dependency (`authorize` or `authorize_bearer`), not
FastAPI's security-scheme classes, to keep the request path short (see
access/dependencies.py). So the schemes are described here instead, from the same facts:
the app's routes are walked, and each route's required scopes are read off its
dependency. A route added anywhere is described without being listed anywhere.

Error statuses come from the same walk: each dependency's (errors.answers), 413 for every
route (the body limit refuses a body sent to any of them), 400 for a route that reads a
body, added to those the route declares itself (errors.error_responses).
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from .access.dependencies import authorize, authorize_bearer, check_scopes
from .access.transports import API_KEY_HEADER
from .errors import ErrorBody, dependency_errors, error_responses
from .security.scopes import SCOPE_DESCRIPTIONS

OAUTH2 = "OAuth2PasswordBearer"
API_KEY = "APIKeyHeader"
ERROR_BODY = ErrorBody.__name__


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


def _dependency_errors(dependant: Dependant) -> set[int]:
    statuses = set(dependency_errors(dependant.call))
    for dependency in dependant.dependencies:
        statuses |= _dependency_errors(dependency)
    return statuses


def _implied_errors(route: APIRoute) -> dict[str, dict[str, Any]]:
    """The error answers the route's dependencies and body imply, as OpenAPI responses."""
    # A body over MAX_BODY_BYTES is refused before any route sees it, even one that reads
    # no body; a body that cannot be read (not UTF-8, say), by a route that reads one.
    statuses = _dependency_errors(route.dependant) | {413}
    if route.body_field is not None:
        statuses.add(400)
    body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_BODY}"}}}
    implied = {}
    for status, response in error_responses(*sorted(statuses)).items():
        described = {key: value for key, value in response.items() if key != "model"}
        implied[str(status)] = {**described, "content": body}
    return implied


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every API route of `app` with its full path, included routers' prefixes added."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path_format is not None:
            yield context.path_format, route


def describe_security(app: FastAPI, token_endpoint: Callable[..., Any]) -> None:
    """Make `app.openapi()` declare the schemes, with the password flow's token URL where
    `token_endpoint` is served, and each protected route's requirement.

    Scopes declared without `require` (`Security(authorize, scopes=[...])`) are checked
    against the registry here, at start-up: UnknownScopeError naming the route."""
    for path, route in _api_routes(app):
        requirement = _requirements(route.dependant)
        if requirement is not None:
            check_scopes(requirement[0][OAUTH2], f"{sorted(route.methods or ())} {path}")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=app.summary
            )
            (token_url,) = (
                path for path, route in _api_routes(app) if route.endpoint is token_endpoint
            )
            components = document.setdefault("components", {})
            components.setdefault("schemas", {})[ERROR_BODY] = ErrorBody.model_json_schema()
            components["securitySchemes"] = {
                OAUTH2: {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": token_url, "scopes": SCOPE_DESCRIPTIONS}},
                },
                API_KEY: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
            }
            for path, route in _api_routes(app):
                if not route.include_in_schema:
                    continue
                requirement = _requirements(route.dependant)
                implied = _implied_errors(route)
                for method in route.methods or ():
                    operation = document["paths"][path][method.lower()]
                    if requirement is not None:
                        operation["security"] = requirement
                    # What the route declares itself says more than the generic meaning.
                    responses = {**implied, **operation["responses"]}
                    operation["responses"] = dict(sorted(responses.items()))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
