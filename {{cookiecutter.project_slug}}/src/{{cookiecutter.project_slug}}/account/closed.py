"""Writes that lose a race against their account's closing.

A request authenticated a moment before its account was closed may still be writing
when the user row goes: an insert of something the user owns then breaks its foreign
key (IntegrityError), an update of the user's row finds none (StaleDataError). Such a
write gets what the caller's next request would get, 401 (AccountClosedError),
whichever route it came through. Any other failure of that kind is a bug, and stays a
500.
"""

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..errors import AccountClosedError, handle_app_error
from ..services import Services
from ..users.models import User

# The errors of a write whose user row is gone.
WRITE_ERRORS = (IntegrityError, StaleDataError)


async def handle_write_to_closed_account(request: Request, exc: Exception) -> JSONResponse:
    user_id = getattr(request.state, "user_id", None)
    services: Services = request.app.state.services
    if user_id is None or await _user_exists(services, uuid.UUID(user_id)):
        raise exc
    return await handle_app_error(request, AccountClosedError())


async def _user_exists(services: Services, user_id: uuid.UUID) -> bool:
    async with services.sessionmaker() as db:
        return bool(await db.scalar(select(exists().where(User.id == user_id))))
