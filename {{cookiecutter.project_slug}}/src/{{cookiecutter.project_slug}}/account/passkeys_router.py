"""The caller's own passkeys. A bearer token or a cookie session only: an API key
cannot see or change how its account logs in. Asking for registration options and
removing a passkey re-authenticate the caller (reauthentication.py): each is a
change to how the account is held, and says so by mail."""

import uuid
from typing import Any

from fastapi import APIRouter, status

from ..access.dependencies import AccountReader, AccountWriter
from ..errors import error_responses
from ..passkeys import service
from ..passkeys.dependencies import RelyingPartyDep
from ..passkeys.schemas import PasskeyCreate, PasskeyPublic, Reauthentication
from ..security_mail import Notice, SecurityMailDep
from ..services import DbDep, ServicesDep
from .reauthentication import reauthenticate

router = APIRouter(prefix="/users/me/passkeys", tags=["users"])


@router.post("/registration-options", responses=error_responses(400))
async def registration_options(
    data: Reauthentication,
    principal: AccountWriter,
    party: RelyingPartyDep,
    services: ServicesDep,
    db: DbDep,
) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptionsJSON` for `parseCreationOptionsFromJSON`: a
    discoverable credential with user verification, none of the caller's passkeys
    again. Needs `current_password`, and `code` with two-factor authentication on."""
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    return await service.registration_options(db, party, principal.user)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
async def add_passkey(
    data: PasskeyCreate,
    principal: AccountWriter,
    party: RelyingPartyDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> PasskeyPublic:
    """Register the credential made from the caller's registration options, within five
    minutes of them; at most ten passkeys per user."""
    passkey = await service.add_passkey(
        db,
        party,
        principal.user,
        principal.login_session_id,
        name=data.name,
        credential=data.credential,
    )
    security_mail.queue(Notice.PASSKEY_ADDED, principal.user, passkey_name=passkey.name)
    return PasskeyPublic.model_validate(passkey)


@router.get("")
async def list_passkeys(principal: AccountReader, db: DbDep) -> list[PasskeyPublic]:
    passkeys = await service.list_passkeys(db, principal.user.id)
    return [PasskeyPublic.model_validate(passkey) for passkey in passkeys]


@router.delete(
    "/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(400, 404)
)
async def remove_passkey(
    passkey_id: uuid.UUID,
    data: Reauthentication,
    principal: AccountWriter,
    services: ServicesDep,
    security_mail: SecurityMailDep,
    db: DbDep,
) -> None:
    """Remove one of the caller's passkeys, with `current_password` (and `code` with
    two-factor authentication on). It logs nobody in from now on."""
    await reauthenticate(
        db, services, principal, current_password=data.current_password, code=data.code
    )
    await service.remove_passkey(db, principal.user.id, passkey_id)
    security_mail.queue(Notice.PASSKEY_REMOVED, principal.user)
