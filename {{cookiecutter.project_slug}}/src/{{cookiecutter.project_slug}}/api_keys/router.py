import uuid

from fastapi import APIRouter, status

from ..access.dependencies import BearerPrincipal
from ..errors import error_responses
from ..security_mail import Notice, SecurityMailDep
from ..services import DbDep
from . import service
from .schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
async def create_key(
    data: ApiKeyCreate, principal: BearerPrincipal, security_mail: SecurityMailDep, db: DbDep
) -> ApiKeyCreated:
    """Create a key with some of your scopes. Copy `key` now: it is not shown again."""
    api_key, plaintext = await service.create_key(
{%- if cookiecutter.multi_tenancy == "yes" %}
        db,
        principal.user,
        principal.login_session_id,
        principal.scopes,
        data,
        principal.membership.organization_id if principal.membership is not None else None,
{%- else %}
        db, principal.user, principal.login_session_id, principal.scopes, data
{%- endif %}
    )
    security_mail.queue(Notice.API_KEY_CREATED, principal.user, key_prefix=api_key.prefix)
    public = ApiKeyPublic.model_validate(api_key)
    return ApiKeyCreated(**public.model_dump(), key=plaintext)


@router.get("")
async def list_keys(principal: BearerPrincipal, db: DbDep) -> list[ApiKeyPublic]:
    keys = await service.list_keys(db, principal.user)
    return [ApiKeyPublic.model_validate(key) for key in keys]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def revoke_key(key_id: uuid.UUID, principal: BearerPrincipal, db: DbDep) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    await service.revoke_key(db, principal.user, key_id)
