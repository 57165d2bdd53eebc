from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .errors import error_responses
from .services import ServicesDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok"}


@router.get("/ready", responses=error_responses(503))
async def ready(services: ServicesDep) -> JSONResponse:
{%- if cookiecutter.use_redis == "yes" %}
    """Readiness: the database answers a trivial query, and Redis a ping when it is used."""
{%- else %}
    """Readiness: the database answers a trivial query."""
{%- endif %}
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        return _unavailable("Database unavailable")
{%- if cookiecutter.use_redis == "yes" %}
    if not await services.principals.versions.ping():
        return _unavailable("Redis unavailable")
{%- endif %}
    return JSONResponse({"status": "ok"})


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
