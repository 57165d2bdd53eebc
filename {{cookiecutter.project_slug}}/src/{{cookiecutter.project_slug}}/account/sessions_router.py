"""A user's own login sessions: where they are logged in, and ending one of them.

The routes sit under /users/me with the rest of the account's security; the session
machinery they use is auth/sessions.py.
"""

import uuid

from fastapi import APIRouter, status

from ..access.dependencies import AccountReader, AccountWriter
from ..auth.schemas import LoginSessionPublic
from ..auth.sessions import LoginSessionsDep
from ..errors import error_responses
from ..services import DbDep

router = APIRouter(prefix="/users/me/sessions", tags=["users"])


@router.get("")
async def list_sessions(
    principal: AccountReader, sessions: LoginSessionsDep, db: DbDep
) -> list[LoginSessionPublic]:
    """Your live login sessions, newest first, all of them (a user's live sessions are
    capped, so there are no pages); `current` marks the one this request's token or
    cookie belongs to."""
    live = await sessions.list_live(db, principal.user.id)
    return [
        LoginSessionPublic(
            id=login_session.id,
            created_at=login_session.created_at,
            last_used_at=login_session.last_used_at,
            user_agent=login_session.user_agent,
            ip_address=login_session.ip_address,
            current=login_session.id == principal.session_id,
        )
        for login_session in live
    ]


@router.delete(
    "/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def end_session(
    session_id: uuid.UUID, principal: AccountWriter, sessions: LoginSessionsDep, db: DbDep
) -> None:
    """End one of your sessions: its access and refresh tokens get 401 from now on, on
    every worker. Another user's session, or one already ended, is 404."""
    await sessions.end_live(db, principal.user.id, session_id)
