"""Errors the services raise; one handler turns each into `{"detail": ...}` with its status.

The OpenAPI document declares every error status an operation can answer, so generated
clients handle them: a route names the ones its own logic raises (`error_responses`),
and a dependency names the ones it raises for every route that uses it (`answers`);
openapi.py adds the latter, 413 for every route and 400 for a route that takes a body.
"""

from collections.abc import Callable
from typing import Any, TypeVar, cast

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .security.events import security_event
from .security.rate_limit import RateLimitedError

# What a shed request is told to wait: about the time the queue takes to drain.
HASHER_BUSY_RETRY_SECONDS = 2

_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])


class ErrorBody(BaseModel):
    """Every error answer but a 422, whose `detail` is a list of problems instead."""

    detail: str


_MEANINGS = {
    400: "An unreadable body (not UTF-8), or a request that breaks a rule of this operation",
    401: "Missing, invalid or expired credentials",
    403: "Authenticated, but not allowed",
    404: "No such resource, or not the caller's",
    409: "Conflicts with the current state",
    413: "Request body too large",
    429: "Too many requests; retry after Retry-After seconds",
    503: "Temporarily unavailable; retry after Retry-After seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "The scheme, and why it failed"}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}
_DEPENDENCY_ERRORS: dict[Callable[..., Any], tuple[int, ...]] = {}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the `{"detail": ...}` body."""
    return {
        status: {
            "model": ErrorBody,
            "description": _MEANINGS[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def answers(*statuses: int) -> Callable[[_Dependency], _Dependency]:
    """Mark a dependency as answering these statuses for every route that uses it."""

    def mark(dependency: _Dependency) -> _Dependency:
        _DEPENDENCY_ERRORS[dependency] = statuses
        return dependency

    return mark


def dependency_errors(dependency: Callable[..., Any] | None) -> tuple[int, ...]:
    return _DEPENDENCY_ERRORS.get(dependency, ()) if dependency is not None else ()


class AppError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(AppError):
    status_code = 404


class ConflictError(AppError):
    status_code = 409


class ForbiddenError(AppError):
    status_code = 403


class UnprocessableError(AppError):
    """A field's value breaks a rule only the service can check (it needs the user)."""

    status_code = 422

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class EmailNotVerifiedError(AppError):
    status_code = 403


class InvalidCredentialsError(AppError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - read-only class constant


class AccountClosedError(InvalidCredentialsError):
    """The caller's account was closed while the request ran: what its next request gets."""

    def __init__(self) -> None:
        super().__init__("Account closed")


class SecondFactorError(InvalidCredentialsError):
    """The password was right; the login needs a (valid, unused) two-factor code."""

    headers = {"WWW-Authenticate": 'Bearer error="mfa_required"'}  # noqa: RUF012


async def handle_app_error(_request: Request, exc: Exception) -> JSONResponse:
    error = cast(AppError, exc)  # registered for AppError only
    if isinstance(error, UnprocessableError):
        # The shape of every other 422: a list of problems, each naming its field.
        problem = {"type": "value_error", "loc": ["body", error.field], "msg": error.detail}
        return JSONResponse({"detail": [problem]}, status_code=422)
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


async def handle_rate_limited(request: Request, exc: Exception) -> JSONResponse:
    limited = cast(RateLimitedError, exc)  # registered for RateLimitedError only
    client = request.client.host if request.client else "unknown"
    # Logged only, not kept in the audit trail: a 429 changes nothing, and floods are
    # when it happens, a row per refused request would be the amplification refused.
    security_event("rate_limited", path=request.url.path, client=client, limit=str(limited.limit))
    return JSONResponse(
        {"detail": f"Too many requests; retry in {limited.retry_after} seconds"},
        status_code=429,
        headers={"Retry-After": str(limited.retry_after)},
    )


{% if cookiecutter.use_redis == "yes" -%}
async def handle_auth_state_unavailable(_request: Request, _exc: Exception) -> JSONResponse:
    # Fail closed: without the shared revocation state nobody can be authenticated.
    return JSONResponse(
        {"detail": "Authentication is temporarily unavailable"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


{% endif -%}
async def handle_hasher_busy(_request: Request, _exc: Exception) -> JSONResponse:
    # Load shedding: the password-hash queue is full. Failing at once keeps the wait of
    # everyone else bounded; a client that retries shortly finds room.
    return JSONResponse(
        {"detail": "Server busy; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(HASHER_BUSY_RETRY_SECONDS)},
    )


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field's problem, without echoing what was sent.

    FastAPI's own handler returns the submitted values, which may be a password, and
    fails outright on NaN or Infinity, which Python's JSON parser accepts.
    """
    errors = cast(RequestValidationError, exc).errors()
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)
